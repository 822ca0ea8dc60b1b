"""The ``Backend`` protocol: where a sweep's trials run, on this machine or on a cluster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import optuna

from sweeper.execution._faults import FaultPolicy
from sweeper.execution._progress import Progress
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import ProbeResult


@dataclass(frozen=True)
class SweepPlan:
    """How much a sweep runs, and how it treats failures.

    Args:
        n_trials: Results the study should hold.
        policy: Retries and fail-fast.
        timeout: Stop starting trials after this many seconds. Defaults to ``None``.
        on_tail: Called once, when a worker first has no trial left to run, with its
            core to spare. Defaults to ``None``.
    """

    n_trials: int
    policy: FaultPolicy
    timeout: float | None = None
    on_tail: Callable[[], None] | None = None


class Backend(Protocol):
    """Runs a study's probe and its trials on some set of worker processes.

    ``sweeper.api.run`` drives any backend the same way: probe, open the study,
    sweep, close. The local backend (``backends/local``) keeps ``--jobs`` loky
    processes busy; the Dask backend (``backends/dask``) runs a worker loop on
    every Dask worker against a shared RDB storage.
    """

    def describe(self) -> str:
        """Who runs the trials, for the progress line, e.g. ``"2 worker process(es)"``."""
        ...

    def probe(self, study_file: str) -> ProbeResult:
        """Loads the study file in a worker, builds one model and checks the monitors.

        Raises:
            StudyFileError: For bad input.
        """
        ...

    def sweep(self, study: optuna.Study, config: SweepConfig, plan: SweepPlan, progress: Progress | None) -> None:
        """Runs trials until the study holds ``plan.n_trials`` results (or the budget or timeout runs out).

        Raises:
            SweepAborted: When the first ``fail_fast`` trials all failed.
            KeyboardInterrupt: On Ctrl-C or SIGTERM, once running trials are ended.
        """
        ...

    def close(self) -> None:
        """Releases the backend's connections; warm local workers stay for the next sweep."""
        ...
