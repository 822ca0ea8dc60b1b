"""The Dask backend: the study's worker loop on every worker of a Dask cluster, on a shared RDB storage."""

from __future__ import annotations

import optuna

from sweeper._errors import StudyFileError
from sweeper.backends._backend import SweepPlan
from sweeper.backends.dask._cluster import DaskCluster
from sweeper.execution._interrupts import signals_deferred
from sweeper.execution._progress import Progress
from sweeper.storage._open import is_rdb_url
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import STOP_REQUESTED_ATTR, ProbeResult


class DaskBackend:
    """A Dask cluster's workers, each running trials from the shared storage.

    Args:
        scheduler: The scheduler's address, e.g. ``tcp://host:8786``.
        storage: The study's storage; it must be a database URL every worker reaches.
        trials_per_gpu: Trials sharing each worker's GPU (one worker per GPU, as dask-cuda
            starts them): each worker caps its GPU memory to its share. Defaults to ``1``.

    Raises:
        StudyFileError: For a missing scheduler or storage, or a cluster that cannot be reached.
    """

    def __init__(self, scheduler: str | None, storage: str | None, trials_per_gpu: int = 1) -> None:
        if not scheduler:
            raise StudyFileError("--backend dask needs --scheduler.", fix="e.g. --scheduler tcp://host:8786.")
        if not storage or not is_rdb_url(storage):
            raise StudyFileError(
                "--backend dask needs --storage with a database URL that every worker reaches.",
                fix="e.g. --storage postgresql+psycopg://user:pw@host/db (a journal file is one machine's).",
            )
        self.cluster = DaskCluster(scheduler, trials_per_gpu)

    def describe(self) -> str:
        return f"{len(self.cluster.threads)} Dask worker(s) at {self.cluster.scheduler}"

    def probe(self, study_file: str) -> ProbeResult:
        return self.cluster.probe(study_file)

    def sweep(self, study: optuna.Study, config: SweepConfig, plan: SweepPlan, progress: Progress | None) -> None:
        """Runs the study on the cluster; Ctrl-C asks every worker loop to stop after its trial."""
        study.set_user_attr(STOP_REQUESTED_ATTR, False)
        try:
            self.cluster.sweep(study, config, plan.n_trials, progress)
        except KeyboardInterrupt:
            with signals_deferred():
                study.set_user_attr(STOP_REQUESTED_ATTR, True)
            raise
        finally:
            if progress:
                progress.close()  # however the sweep ends, a live view gives the terminal back

    def close(self) -> None:
        self.cluster.close()
