"""The progress line: one per finished trial, with the study's totals and its best so far.

``execution/_live.py`` adds a live table of the running trials under these lines, on a terminal.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import TextIO

from optuna.trial import FrozenTrial

from sweeper.storage._catalog import best_complete
from sweeper.trial._outcome import TrialOutcome, count_results, counts_as_result, last_line, retried_by_heartbeat


class Progress:
    """Prints one line per finished trial, with the study-wide totals.

    The totals and the best trial are read from the study's trials each time, not
    kept here: a resumed sweep, or another run of the same study, shows the same
    figures as ``sweeper ls`` and ``sweeper best``.

    Args:
        n_trials: How many results the sweep is after.
        monitor: The monitored quantity's name.
        mode: ``"min"`` or ``"max"``.
        epoch_budget: The sweep's epoch budget, if any. Defaults to ``None``.
        stream: Where to print. Defaults to ``sys.stderr``.
    """

    def __init__(
        self, n_trials: int, monitor: str, mode: str, epoch_budget: int | None = None, stream: TextIO | None = None
    ) -> None:
        self.n_trials = n_trials
        self.epoch_budget = epoch_budget
        self.monitor = monitor
        self.mode = mode
        self.stream = stream or sys.stderr

    def start(self, workers: str, storage: str, trials: list[FrozenTrial]) -> None:
        """Prints the opening line: the budget, where trials run, and the (redacted) storage."""
        done = count_results(trials)
        resumed = f", resuming at {done}" if done else ""
        budget = f" or {self.epoch_budget} epochs, whichever comes first," if self.epoch_budget else ""
        self._print(f"sweeping {self.n_trials} trials{budget} on {workers}{resumed}; storage {storage}")

    def update(self, outcome: TrialOutcome, trials: list[FrozenTrial]) -> None:
        """Prints a finished trial's line and the study's totals.

        Args:
            outcome: How the trial ended.
            trials: The study's trials, read after it ended.
        """
        value = "" if outcome.value is None else f" {self.monitor}={outcome.value:.4f}"
        reason = outcome.stop_reason if outcome.counted else f"{outcome.stop_reason}, not counted"
        self._print(f"trial {outcome.number:>4} {outcome.state:<8}{value} ({reason})  {self.summary(trials)}")
        if outcome.error and outcome.state == "FAIL":
            self._print(f"      {last_line(outcome.error)}")

    def tick(self) -> None:
        """Called on every poll of the sweep's loop: the lines alone show nothing between trials."""

    def close(self) -> None:
        """Called once the sweep's loop ends, however it ends: the lines alone hold nothing to release."""

    def summary(self, trials: list[FrozenTrial]) -> str:
        """``[done/n_trials: c complete, p pruned, f failed · best v (trial k)]`` for the whole study."""
        retried = retried_by_heartbeat(trials)
        counts = Counter(t.state.name for t in trials if counts_as_result(t) and t.number not in retried)
        best = best_complete(trials, maximize=self.mode == "max")
        best_text = "" if best is None else f" · best {best.value:.4f} (trial {best.number})"
        return (
            f"[{sum(counts.values())}/{self.n_trials}: {counts['COMPLETE']} complete, "
            f"{counts['PRUNED']} pruned, {counts['FAIL']} failed{best_text}]"
        )

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
