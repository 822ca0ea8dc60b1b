"""When to replace a long-lived worker whose memory grows trial after trial.

Each Keras trial leaves a few MB behind in TensorFlow even after
``clear_session()`` and ``gc.collect()`` (measured 4.5 MB per trial for an MLP,
8-9 MB for a small Conv2D; no allocator or cleanup order removes it). So a worker
is replaced once it has grown past a budget. A replacement spends 5-10 s
importing TensorFlow, so the pool starts it a couple of trials *before* the old
worker retires, and the slot never idles through that import.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Start the replacement when this many more trials at the current rate would cross the budget.
PREPARE_AHEAD_TRIALS = 2


class Recycle(enum.Enum):
    """What to do with a worker after a trial."""

    KEEP = "keep"
    PREPARE = "prepare"  # start its replacement now, in the background
    REPLACE = "replace"  # retire it; its replacement takes the next trial


@dataclass
class WorkerMemory:
    """One worker's RSS growth since its first trial, against a budget.

    Growth is measured from the end of the first trial, not from the start of the
    process: the first fit allocates TensorFlow's lasting caches, which are not a leak.

    Args:
        budget_mb: Replace the worker once it has grown this many MB.
    """

    budget_mb: float
    reference_mb: float | None = None
    trials_since_reference: int = 0

    def after_trial(self, rss_mb: float) -> Recycle:
        """Records the worker's RSS after a trial and says what to do with it."""
        if self.reference_mb is None:
            self.reference_mb = rss_mb
            return Recycle.KEEP
        self.trials_since_reference += 1
        growth = rss_mb - self.reference_mb
        if growth > self.budget_mb:
            return Recycle.REPLACE
        per_trial = max(growth, 0.0) / self.trials_since_reference
        if growth + PREPARE_AHEAD_TRIALS * per_trial > self.budget_mb:
            return Recycle.PREPARE
        return Recycle.KEEP
