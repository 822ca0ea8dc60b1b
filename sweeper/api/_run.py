"""``sweeper.run``: a sweep from a study file, on any backend, ending in its reports."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import optuna

from sweeper.api._sweep import SweepOptions, SweepResult, optuna_quiet, sweep, sweep_result
from sweeper.execution._gpus import gpu_options
from sweeper.execution._options import (
    fail_fast_option,
    gigabytes_option,
    positive_option,
    seconds_option,
    whole_number_option,
)
from sweeper.storage._catalog import StudyRef
from sweeper.storage._disk import DEFAULT_MIN_FREE_GB
from sweeper.storage._open import default_storage, is_rdb_url, open_storage
from sweeper.study._loader import check_study_file
from sweeper.study._peek import peek_study_file
from sweeper.study._study import keep_checkpoints_value
from sweeper.trial._outcome import count_results, epoch_budget_spent

__all__ = ["SweepResult", "check_overrides", "check_retention_options", "run", "warn_if_oversubscribed"]


@optuna_quiet
def run(
    study_file: str | os.PathLike[str],
    *,
    jobs: int | None = None,
    gpus: str | Sequence[int] | None = "auto",
    trials_per_gpu: int = 1,
    n_trials: int | None = None,
    retries: int | None = None,
    fail_fast: int | None = None,
    epoch_budget: int | None = None,
    trial_timeout: float | None = None,
    storage: str | None = None,
    runs_dir: str | os.PathLike[str] = "runs",
    reports_dir: str | os.PathLike[str] = "reports",
    progress: bool = True,
    backend: str = "loky",
    scheduler: str | None = None,
    keep_checkpoints: int | str | None = None,
    min_free_gb: float = DEFAULT_MIN_FREE_GB,
    resume_trials: bool = True,
) -> SweepResult:
    """Runs (or resumes) the sweep a study file declares.

    Args:
        study_file: The study file.
        jobs: Worker processes, each reused across trials. Defaults to ``None``: 1 on
            CPU, GPUs × ``trials_per_gpu`` on GPUs.
        gpus: ``"auto"`` (every GPU nvidia-ml-py finds; CPU without any), ``"none"``,
            or GPU indices such as ``"0,1,3"``; each worker is pinned to one.
            Defaults to ``"auto"``.
        trials_per_gpu: Trials that share each GPU, each capped to its share of the
            GPU's memory. Defaults to ``1``.
        n_trials: Finished trials the study should hold; overrides the study's.
            Defaults to ``None``.
        retries: Times a trial whose worker died runs again with the same params;
            overrides the study's. Defaults to ``None``.
        fail_fast: Stop once this many trials have failed in user code and none has
            succeeded (``0`` never stops); overrides the study's. Defaults to ``None``.
        epoch_budget: Start no trial once the study's trials have trained this many
            epochs in all; overrides the study's. Defaults to ``None``.
        trial_timeout: Stop a trial at the first batch end past this many seconds (stop
            reason ``timeout``, not retried); a trial hung past it plus 60 s has its
            worker killed. Overrides the study's. Defaults to ``None``.
        storage: An Optuna RDB URL or a journal file path. Defaults to
            ``runs/<study>/journal.log``.
        runs_dir: Where trial artifacts go. Defaults to ``"runs"``.
        reports_dir: Where reports go. Defaults to ``"reports"``.
        progress: Print a line per finished trial. Defaults to ``True``.
        backend: ``"loky"`` runs ``jobs`` worker processes on this machine;
            ``"dask"`` runs a worker loop on every worker of a Dask cluster, against
            an RDB ``storage`` they all reach. Defaults to ``"loky"``.
        scheduler: The Dask scheduler's address, for ``backend="dask"``.
            Defaults to ``None``.
        keep_checkpoints: How many of the best COMPLETE trials keep their checkpoints
            (``"all"`` keeps every one); overrides the study's, whose default is 5.
            Defaults to ``None``.
        min_free_gb: Start no trial while the runs folder's disk has less than this
            free; the sweep then ends with exit code 1 and every finished trial kept.
            ``0`` never stops. Defaults to ``1.0``.
        resume_trials: Back each trial up at epoch ends (at most once a minute), so a
            trial cut short by Ctrl-C, SIGTERM, a dead worker or a lost machine resumes at
            its last backed-up epoch when it is retried, and ends as it would have
            uninterrupted. Defaults to ``True``.

    Returns:
        The sweep's result.

    Raises:
        StudyFileError: For bad input, before anything is written.
        SweepAborted: When the first ``fail_fast`` trials all failed; the report is
            written first.
        KeyboardInterrupt: On Ctrl-C or SIGTERM (:class:`SweepTerminated`), once the
            running trials are ended as ``interrupted``.
    """
    # Everything that needs no framework is checked before any worker imports one.
    gpu_plan, jobs = gpu_options(gpus, trials_per_gpu, jobs, local=backend == "loky")
    check_overrides(n_trials, retries, fail_fast, epoch_budget)
    seconds_option("--trial-timeout", trial_timeout)
    check_retention_options(keep_checkpoints, min_free_gb)
    study_path = check_study_file(study_file).resolve()
    runs_path = Path(runs_dir).resolve()
    if storage is not None:
        open_storage(storage)  # an unreachable server is one line now, not after TensorFlow has loaded
    done = _nothing_to_do(study_path, n_trials, epoch_budget, storage, runs_path, Path(reports_dir), progress)
    if done is not None:
        return done
    if backend == "loky" and not gpu_plan.gpus:  # on GPUs, the jobs are GPU slots, not cores
        warn_if_oversubscribed(jobs)
    options = SweepOptions(
        jobs=jobs,
        n_trials=n_trials,
        retries=retries,
        fail_fast=fail_fast,
        epoch_budget=epoch_budget,
        trial_timeout=trial_timeout,
        storage=storage,
        runs_path=runs_path,
        reports_dir=Path(reports_dir),
        progress=progress,
        backend=backend,
        scheduler=scheduler,
        keep_checkpoints=keep_checkpoints,
        min_free_gb=min_free_gb,
        resume_trials=resume_trials,
        gpus=gpu_plan,
    )
    return sweep(study_path, options)


def check_overrides(n_trials: int | None, retries: int | None, fail_fast: int | None, epoch_budget: int | None) -> None:
    """The options' own values, checked before the study file runs (the study's are checked there)."""
    for option, value in (("--n-trials", n_trials), ("--epoch-budget", epoch_budget)):
        if value is not None:
            positive_option(option, value)
    if retries is not None:
        whole_number_option("--retries", retries)
    fail_fast_option(fail_fast)


def check_retention_options(keep_checkpoints: int | str | None, min_free_gb: float) -> None:
    """``--keep-checkpoints`` and ``--min-free-gb``, checked before the study file runs."""
    if keep_checkpoints is not None:
        keep_checkpoints_value("--keep-checkpoints", keep_checkpoints)
    gigabytes_option("--min-free-gb", min_free_gb)


def warn_if_oversubscribed(jobs: int) -> None:
    cores = os.cpu_count() or 1
    if jobs <= cores:
        return
    warnings.warn(
        f"--jobs {jobs} on {cores} CPU core{'s' if cores > 1 else ''}: the {jobs} workers share the cores "
        "(one TensorFlow thread each), "
        f"so every trial runs slower than with --jobs {cores}, and each worker holds its own TensorFlow "
        f"(about 0.7 GB). Use --jobs {cores} or fewer on CPU.",
        stacklevel=4,
    )


def _nothing_to_do(
    study_path: Path,
    n_trials: int | None,
    epoch_budget: int | None,
    storage: str | None,
    runs_path: Path,
    reports_dir: Path,
    progress: bool,
) -> SweepResult | None:
    """A study that already holds its results needs no worker: its reports are rebuilt, nothing runs.

    Known only when the study file's name and ``n_trials`` are literals (or the
    options give them); otherwise the probe's answer decides, after workers start.
    """
    peek = peek_study_file(study_path)
    target = n_trials if n_trials is not None else peek.n_trials
    budget = epoch_budget if epoch_budget is not None else peek.epoch_budget
    if peek.name is None or target is None:
        return None
    ref = StudyRef(peek.name, storage or default_storage(runs_path / peek.name), runs_path)
    if not is_rdb_url(ref.storage) and not Path(ref.storage).exists():
        return None
    try:
        study = optuna.load_study(study_name=ref.name, storage=open_storage(ref.storage))
    except KeyError:
        return None
    trials = study.get_trials(deepcopy=False)
    held = count_results(trials)
    if held < target and not epoch_budget_spent(trials, budget):
        return None
    if progress:
        spent = f" (and its epoch budget of {budget} is spent)" if epoch_budget_spent(trials, budget) else ""
        print(f"nothing to do: study {ref.name!r} holds {held} of {target} results{spent}", file=sys.stderr)
    return sweep_result(ref, study, reports_dir)
