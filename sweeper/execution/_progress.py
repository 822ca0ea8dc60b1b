"""The live progress line: trials done, pruned and failed, and the best so far."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TextIO

from sweeper.trial._outcome import TrialOutcome, last_line


class Progress:
    """Prints one line per finished trial, with the running totals.

    Args:
        n_trials: How many results the sweep is after.
        monitor: The monitored quantity's name.
        mode: ``"min"`` or ``"max"``.
        done_before: Results the study already held (a resumed sweep). Defaults to ``0``.
        epoch_budget: The sweep's epoch budget, if any. Defaults to ``None``.
        stream: Where to print. Defaults to ``sys.stderr``.
    """

    def __init__(
        self,
        n_trials: int,
        monitor: str,
        mode: str,
        done_before: int = 0,
        epoch_budget: int | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.n_trials = n_trials
        self.epoch_budget = epoch_budget
        self.monitor = monitor
        self.mode = mode
        self.done_before = done_before
        self.stream = stream or sys.stderr
        self.counts: Counter[str] = Counter()
        self.best: tuple[float, int] | None = None

    def start(self, workers: str, storage: str) -> None:
        """Prints the opening line: the budget, where trials run, and the (redacted) storage."""
        resumed = f", resuming at {self.done_before}" if self.done_before else ""
        budget = f" or {self.epoch_budget} epochs, whichever comes first," if self.epoch_budget else ""
        self._print(f"sweeping {self.n_trials} trials{budget} on {workers}{resumed}; storage {storage}")

    def update(self, outcome: TrialOutcome) -> None:
        """Counts a finished trial and prints its line."""
        if outcome.counted:
            self.counts[outcome.state] += 1
        if outcome.state == "COMPLETE" and outcome.value is not None and self._improves(outcome.value):
            self.best = (outcome.value, outcome.number)
        value = "" if outcome.value is None else f" {self.monitor}={outcome.value:.4f}"
        reason = outcome.stop_reason if outcome.counted else f"{outcome.stop_reason}, not counted"
        self._print(f"trial {outcome.number:>4} {outcome.state:<8}{value} ({reason})  {self.summary()}")
        if outcome.error and outcome.state == "FAIL":
            self._print(f"      {last_line(outcome.error)}")

    def summary(self) -> str:
        done = self.done_before + sum(self.counts.values())
        best = "" if self.best is None else f" · best {self.best[0]:.4f} (trial {self.best[1]})"
        return (
            f"[{done}/{self.n_trials}: {self.counts['COMPLETE']} complete, "
            f"{self.counts['PRUNED']} pruned, {self.counts['FAIL']} failed{best}]"
        )

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.mode == "max" else value < self.best[0]

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
