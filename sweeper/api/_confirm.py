"""``sweeper.confirm``: a paired follow-up of a finished study, to tell its callback settings apart."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import optuna

from sweeper._errors import StudyFileError
from sweeper.api._run import check_overrides, check_retention_options, warn_if_oversubscribed
from sweeper.api._sweep import FollowUp, SweepOptions, SweepResult, optuna_quiet, sweep, sweep_result
from sweeper.execution._gpus import gpu_options
from sweeper.execution._open_study import name_metric
from sweeper.execution._options import positive_option, seconds_option
from sweeper.search._confirm import CONFIRM_ATTR, ConfirmPlan, confirm_name, plan_confirm
from sweeper.storage._catalog import StudyRef, find_study, load_optuna_study
from sweeper.storage._disk import DEFAULT_MIN_FREE_GB
from sweeper.storage._open import open_storage
from sweeper.study._loader import check_study_file
from sweeper.trial._outcome import count_results


@optuna_quiet
def confirm(
    study_file: str | os.PathLike[str],
    *,
    top: int = 3,
    repeats: int = 3,
    jobs: int | None = None,
    gpus: str | Sequence[int] | None = "auto",
    trials_per_gpu: int = 1,
    retries: int | None = None,
    fail_fast: int | None = None,
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
    """Runs (or resumes) the confirm run of a study that ran: its best models × the trained settings × seeds.

    It creates the study ``<study>-confirm`` in the same storage. Its trials are the
    ``top`` best distinct model configurations of the study, each crossed with every
    value of the searched callback settings that change training (ReduceLROnPlateau's
    ``factor``, ...) and run with seeds ``0`` to ``repeats - 1``, without pruning.
    EarlyStopping trains with the largest ``patience`` searched; the smaller ones are
    read from the replay, exactly. Every cell then holds the same models and seeds,
    so ``settings.csv`` compares them pair by pair.

    Args:
        study_file: The study file of a study that ran.
        top: How many of its best distinct model configurations to confirm. Defaults to ``3``.
        repeats: Seeds per model configuration and setting. Defaults to ``3``.
        jobs: Worker processes. Defaults to ``None``: 1 on CPU, GPUs × ``trials_per_gpu`` on GPUs.
        gpus: ``"auto"``, ``"none"`` or GPU indices such as ``"0,1"``, as for
            :func:`sweeper.run`. Defaults to ``"auto"``.
        trials_per_gpu: Trials that share each GPU. Defaults to ``1``.
        retries: Times a trial whose worker died runs again; overrides the study's.
            Defaults to ``None``.
        fail_fast: Stop once this many trials have failed in user code and none has
            succeeded; overrides the study's. Defaults to ``None``.
        trial_timeout: Stop a trial at the first batch end past this many seconds;
            overrides the study's. Defaults to ``None``.
        storage: The study's storage. Defaults to ``runs/<study>/journal.log``.
        runs_dir: The runs folder. Defaults to ``"runs"``.
        reports_dir: Where reports go. Defaults to ``"reports"``.
        progress: Print what runs and a line per finished trial. Defaults to ``True``.
        backend: ``"loky"`` or ``"dask"``, as for :func:`sweeper.run`. Defaults to ``"loky"``.
        scheduler: The Dask scheduler's address. Defaults to ``None``.
        keep_checkpoints: How many of the confirm run's best trials keep their
            checkpoints (``"all"`` keeps every one); overrides the study's. Defaults to ``None``.
        min_free_gb: Start no trial while the runs folder's disk has less free.
            Defaults to ``1.0``.
        resume_trials: A retried trial resumes at its last backed-up epoch. Defaults to ``True``.

    Returns:
        The confirm study's result; its reports are in ``reports/<study>-confirm/``.

    Raises:
        StudyFileError: For bad input (``top`` or ``repeats`` not positive, a study
            that has not run or has no COMPLETE trial, no searched callback
            setting), before anything is written.
    """
    top = positive_option("--top", top)
    repeats = positive_option("--repeats", repeats)
    gpu_plan, jobs = gpu_options(gpus, trials_per_gpu, jobs, local=backend == "loky")
    check_overrides(None, retries, fail_fast, None)
    seconds_option("--trial-timeout", trial_timeout)
    check_retention_options(keep_checkpoints, min_free_gb)
    study_path = check_study_file(study_file).resolve()
    ref = find_study(str(study_path), Path(runs_dir), storage)
    study, planned = _open_confirm(ref, top, repeats, progress)
    confirm_ref = StudyRef(study.study_name, ref.storage, ref.runs_dir)
    if count_results(study.get_trials(deepcopy=False)) >= planned:
        if progress:
            print(f"nothing to do: study {study.study_name!r} holds its {planned} results", file=sys.stderr)
        return sweep_result(confirm_ref, study, Path(reports_dir))
    if backend == "loky" and not gpu_plan.gpus:
        warn_if_oversubscribed(jobs)
    options = SweepOptions(
        jobs=jobs,
        n_trials=None,
        retries=retries,
        fail_fast=fail_fast,
        epoch_budget=None,
        trial_timeout=trial_timeout,
        storage=ref.storage,
        runs_path=ref.runs_dir,
        reports_dir=Path(reports_dir),
        progress=progress,
        backend=backend,
        scheduler=scheduler,
        keep_checkpoints=keep_checkpoints,
        min_free_gb=min_free_gb,
        resume_trials=resume_trials,
        gpus=gpu_plan,
    )
    return sweep(study_path, options, FollowUp(study.study_name, planned))


def _open_confirm(ref: StudyRef, top: int, repeats: int, progress: bool) -> tuple[optuna.Study, int]:
    """The confirm study of ``ref`` and its planned trial count: created with its trials queued, or resumed."""
    storage = open_storage(ref.storage)
    name = confirm_name(ref.name)
    try:
        existing = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        existing = None
    if existing is not None:
        return existing, _check_resumable(existing, top, repeats)
    original = load_optuna_study(ref)
    maximize = original.direction == optuna.study.StudyDirection.MAXIMIZE
    plan = plan_confirm(ref.name, original.get_trials(deepcopy=False), maximize, top, repeats)
    if progress:
        print(_describe(plan), file=sys.stderr)
    created = optuna.create_study(study_name=name, storage=storage, direction=original.direction)
    for key in ("monitor", "mode"):
        created.set_user_attr(key, original.user_attrs.get(key))
    name_metric(created, original.user_attrs.get("monitor", "value"))
    created.set_user_attr(CONFIRM_ATTR, {**plan.record(ref.name), "trials": len(plan.trials)})
    for params, user_attrs in plan.trials:
        created.enqueue_trial(params, user_attrs=user_attrs)
    return created, len(plan.trials)


def _check_resumable(study: optuna.Study, top: int, repeats: int) -> int:
    record = study.user_attrs.get(CONFIRM_ATTR) or {}
    if (record.get("top"), record.get("repeats")) != (top, repeats):
        raise StudyFileError(
            f"study {study.study_name!r} already exists, with --top {record.get('top')} "
            f"--repeats {record.get('repeats')}, not --top {top} --repeats {repeats}.",
            fix=f"pass --top {record.get('top')} --repeats {record.get('repeats')} to resume it, "
            "or --storage and --runs-dir elsewhere for a new one.",
        )
    return int(record["trials"])


def _describe(plan: ConfirmPlan) -> str:
    """One line: what the confirm run trains and what it reads from the replay."""
    grid = " × ".join(f"{name} {values}" for name, values in plan.grid.items()) or "no trained setting"
    fewer = f" (only {len(plan.configs)} distinct)" if len(plan.configs) < plan.top else ""
    line = (
        f"confirm: {len(plan.configs)} best model configuration(s){fewer} × {grid} "
        f"× {plan.repeats} seed(s) = {len(plan.trials)} trials, no pruning"
    )
    for name, values in plan.replayed.items():
        line += f"; {name} trains at {plan.fixed[name]} and {values} are read from the replay"
    return line
