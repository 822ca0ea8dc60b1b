"""``sweeper.worker``: this process joins a shared study as one more worker, from any machine."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from sweeper.api._run import check_retention_options
from sweeper.api._sweep import record_targets
from sweeper.execution._cpus import available_cpus
from sweeper.execution._framework import check_framework, framework_imported
from sweeper.execution._gpu_env import process_env
from sweeper.execution._native_logs import filter_native_logs
from sweeper.execution._open_study import open_or_create_study
from sweeper.execution._options import positive_option, seconds_option, whole_number_option
from sweeper.execution._worker_setup import import_framework
from sweeper.search._samplers import make_sampler
from sweeper.storage._disk import DEFAULT_MIN_FREE_GB
from sweeper.storage._open import open_storage
from sweeper.storage._redact import redact
from sweeper.study._loader import check_study_file
from sweeper.study._study import keep_checkpoints_value
from sweeper.trial._config import SweepConfig
from sweeper.trial._context import worker_context


def worker(
    study_file: str | os.PathLike[str],
    *,
    storage: str,
    runs_dir: str | os.PathLike[str] = "runs",
    gpus: str | Sequence[int] | None = "auto",
    trials_per_gpu: int = 1,
    n_trials: int | None = None,
    retries: int | None = None,
    epoch_budget: int | None = None,
    trial_timeout: float | None = None,
    keep_checkpoints: int | str | None = None,
    min_free_gb: float = DEFAULT_MIN_FREE_GB,
    resume_trials: bool = True,
) -> int:
    """Joins the study as one more worker, in this process, until it holds ``n_trials`` results.

    What ``sweeper worker`` runs. This process imports TensorFlow and runs the trials itself.

    The study is created if no one has yet. Run this on any number of machines
    against one RDB storage and a shared runs folder; ``sweeper report`` builds
    the reports afterwards.

    Args:
        study_file: The study file, at the same path on every machine.
        storage: The shared Optuna storage, an RDB URL for more than one machine.
        runs_dir: Where trial artifacts go; shared between machines. Defaults to ``"runs"``.
        gpus: ``"auto"`` keeps the GPUs this process was given (``CUDA_VISIBLE_DEVICES``,
            dask-cuda), ``"none"`` hides them, one index pins this worker to that GPU.
            Defaults to ``"auto"``.
        trials_per_gpu: Workers that share this worker's GPU; its memory is capped to
            its share. Defaults to ``1``.
        n_trials: Results the study should hold; overrides the study's. Defaults to ``None``.
        retries: Times a trial lost with its worker runs again; overrides the
            study's. Defaults to ``None``.
        epoch_budget: Start no trial once the study's trials have trained this many
            epochs; overrides the study's. Defaults to ``None``.
        trial_timeout: Stop a trial at the first batch end past this many seconds;
            overrides the study's. Defaults to ``None``.
        keep_checkpoints: How many of the study's best trials keep their checkpoints
            (``"all"`` keeps every one); overrides the study's. Defaults to ``None``.
        min_free_gb: Start no trial while the runs folder's disk has less free.
            Defaults to ``1.0``.
        resume_trials: A retried trial resumes at its last backed-up epoch. Defaults to ``True``.

    Returns:
        How many trials this worker ran.

    Raises:
        StudyFileError: For bad input, before any trial runs.
        DeviceBroken: When a trial broke this process's GPU context (after telling the trial).
    """
    study_path = check_study_file(study_file).resolve()
    check_retention_options(keep_checkpoints, min_free_gb)
    pinned = process_env(gpus, positive_option("--trials-per-gpu", trials_per_gpu))
    open_storage(storage)  # an unreachable storage fails now, not after TensorFlow has loaded
    check_framework()
    # Keras loads here, in this process, once the file and the storage are known to be usable.
    os.environ.update(pinned)  # read by the framework at its import, so before it
    filter_native_logs()
    cores = len(available_cpus())
    if not framework_imported():
        import_framework(cores, cores)  # this process alone: every core, and its GPU share
    elif pinned:
        # A notebook that already ran the framework: too late for the GPU settings asked for.
        warnings.warn(f"the framework is already imported in this process: {pinned} cannot apply", stacklevel=2)
    from sweeper.execution._worker_loop import work
    from sweeper.trial._probe import probe_study

    probe = probe_study(str(study_path))
    n_trials = positive_option("--n-trials", probe.n_trials if n_trials is None else n_trials)
    retries = whole_number_option("--retries", probe.retries if retries is None else retries)
    if epoch_budget is not None:
        epoch_budget = positive_option("--epoch-budget", epoch_budget)
    trial_timeout = seconds_option("--trial-timeout", trial_timeout)
    config = SweepConfig(
        str(study_path),
        storage,
        str(Path(runs_dir).resolve()),
        retries=retries,
        epoch_budget=probe.epoch_budget if epoch_budget is None else epoch_budget,
        trial_timeout=probe.trial_timeout if trial_timeout is None else trial_timeout,
        keep_checkpoints=(
            probe.keep_checkpoints
            if keep_checkpoints is None
            else keep_checkpoints_value("--keep-checkpoints", keep_checkpoints)
        ),
        min_free_gb=min_free_gb,
        resume_trials=resume_trials,
    )
    opened = open_storage(storage, config.heartbeat, retries)
    study = open_or_create_study(probe, opened, make_sampler(worker_context(str(study_path)).study), redact(storage))
    record_targets(study, n_trials, config.epoch_budget, probe.epochs)
    return work(config, probe.name, n_trials)
