"""``SweepConfig``: what every worker needs to run a study's trials, small and picklable."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sweeper.storage._disk import DEFAULT_MIN_FREE_GB
from sweeper.storage._heartbeat import HeartbeatPolicy
from sweeper.study._study import DEFAULT_KEEP_CHECKPOINTS


@dataclass(frozen=True)
class SweepConfig:
    """What every worker needs to run a study's trials; small and picklable.

    Args:
        study_file: The study file's absolute path.
        storage: The Optuna storage (an RDB URL or a journal file path).
        runs_dir: The absolute runs folder; trials write to ``<runs_dir>/<study>/trials``.
        heartbeat: Heartbeats for running trials on an RDB storage, so that any
            client can fail and retry the trials of a worker that died unwatched.
            Defaults to the policy from the environment.
        retries: Times a trial lost with its worker runs again. Defaults to ``1``.
        epoch_budget: Start no trial once the study's trials have trained this many
            epochs. Defaults to ``None``.
        trial_timeout: Stop a trial at the first batch end past this many seconds.
            Defaults to ``None``.
        keep_checkpoints: How many of the best trials keep their checkpoints; ``None``
            keeps all. Defaults to ``5``.
        min_free_gb: Start no trial while the runs folder's disk has less free; ``None``
            never stops. Defaults to ``1.0``.
        resume_trials: Back each trial up at epoch ends, so that its retry after an
            interruption resumes at the last backed-up epoch. Defaults to ``True``.
        backup_every_s: The least time between two backups of a trial. Defaults to
            ``SWEEPER_BACKUP_EVERY_S`` from the environment, else 60.
    """

    study_file: str
    storage: str
    runs_dir: str
    heartbeat: HeartbeatPolicy = field(default_factory=HeartbeatPolicy.from_env)
    retries: int = 1
    epoch_budget: int | None = None
    trial_timeout: float | None = None
    keep_checkpoints: int | None = DEFAULT_KEEP_CHECKPOINTS
    min_free_gb: float | None = DEFAULT_MIN_FREE_GB
    resume_trials: bool = True
    backup_every_s: float = field(default_factory=lambda: float(os.environ.get("SWEEPER_BACKUP_EVERY_S", "60")))

    def trial_dir(self, study_name: str, number: int) -> Path:
        """``<runs_dir>/<study>/trials/<number>``: where one trial keeps its artifacts."""
        return Path(self.runs_dir) / study_name / "trials" / str(number)
