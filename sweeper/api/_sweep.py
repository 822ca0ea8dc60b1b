"""A sweep once its workers are up: probe, plan, open the study, run its trials, write its reports.

``sweeper run`` sweeps the study a study file declares; ``sweeper confirm`` sweeps a
follow-up study of it, created beforehand in the same storage. Both go through here.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import optuna
from optuna.trial import FrozenTrial

from sweeper._errors import SweepAborted, SweeperDeprecationWarning
from sweeper.backends._backend import SweepPlan
from sweeper.backends._select import open_backend
from sweeper.callbacks._temp_files import remove_stale_checkpoint_files
from sweeper.execution._faults import FaultPolicy, recover_trials
from sweeper.execution._framework import check_framework
from sweeper.execution._gpus import GpuPlan
from sweeper.execution._live import progress_for
from sweeper.execution._open_study import driver_sampler, open_or_create_study
from sweeper.execution._options import fail_fast_option, positive_option, whole_number_option
from sweeper.execution._progress import Progress
from sweeper.reports._build import build_report, import_report_libraries
from sweeper.reports._write import write_report
from sweeper.storage._artifacts import artifact_dir, check_artifact_dir
from sweeper.storage._catalog import StudyRef, best_trial
from sweeper.storage._disk import DEFAULT_MIN_FREE_GB
from sweeper.storage._open import default_storage, open_storage
from sweeper.storage._redact import redact
from sweeper.storage._retention import retain_checkpoints
from sweeper.study._study import keep_checkpoints_value
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import ProbeResult, count_results

T = TypeVar("T")


def optuna_quiet(function: Callable[..., T]) -> Callable[..., T]:
    """Runs ``function`` with Optuna's INFO lines ("A new study created ...") off, as sweeper prints its own."""

    @functools.wraps(function)
    def quiet(*args: Any, **kwargs: Any) -> T:
        previous = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            return function(*args, **kwargs)
        finally:
            optuna.logging.set_verbosity(previous)

    return quiet


@dataclass(frozen=True)
class SweepResult:
    """What a finished ``sweeper run`` produced.

    Args:
        study_name: The study's name.
        storage: The storage, with any password redacted.
        n_results: Trials that count toward ``n_trials`` (COMPLETE, PRUNED, FAIL).
        best_trial: The best COMPLETE trial, or ``None``.
        report: The path of ``report.html``, beside the CSV reports.
    """

    study_name: str
    storage: str
    n_results: int
    best_trial: FrozenTrial | None
    report: Path


@dataclass(frozen=True)
class SweepOptions:
    """What the caller of a sweep asked for; ``None`` leaves a number to the study file.

    Args:
        jobs: Worker processes.
        n_trials: Finished trials the study should hold.
        retries: Times a trial whose worker died runs again.
        fail_fast: Failures in user code, without a success, that stop the sweep.
        epoch_budget: Epochs after which no trial starts.
        trial_timeout: Seconds after which a trial stops at its next batch end.
        storage: The storage; ``None`` for the study file's journal under ``runs_path``.
        runs_path: The absolute runs folder.
        reports_dir: Where the reports go.
        progress: Print a line per finished trial.
        backend: ``"loky"`` or ``"dask"``.
        scheduler: The Dask scheduler's address.
        keep_checkpoints: The best trials that keep their checkpoints, ``"all"``, or
            ``None`` for the study's. Defaults to ``None``.
        min_free_gb: Start no trial while the runs folder's disk has less free; ``0``
            never stops. Defaults to ``1.0``.
        resume_trials: A retried trial resumes at its predecessor's last backed-up
            epoch. Defaults to ``True``.
        gpus: The GPUs ``loky`` workers are pinned to; ``None`` for CPU. Defaults to ``None``.
    """

    jobs: int
    n_trials: int | None
    retries: int | None
    fail_fast: int | None
    epoch_budget: int | None
    trial_timeout: float | None
    storage: str | None
    runs_path: Path
    reports_dir: Path
    progress: bool
    backend: str
    scheduler: str | None
    keep_checkpoints: int | str | None = None
    min_free_gb: float = DEFAULT_MIN_FREE_GB
    resume_trials: bool = True
    gpus: GpuPlan | None = None


@dataclass(frozen=True)
class FollowUp:
    """A study created beforehand in the study file's storage, swept instead of the file's own.

    Args:
        name: The follow-up study's name.
        n_trials: The results it should hold: its planned trials.
    """

    name: str
    n_trials: int


def sweep(study_path: Path, options: SweepOptions, follow_up: FollowUp | None = None) -> SweepResult:
    """Starts the workers, probes the study file, and runs the study's trials to the end.

    Args:
        study_path: The absolute path of the checked study file.
        options: What the caller asked for.
        follow_up: The follow-up study to sweep instead of the study file's own.
            Defaults to ``None``.

    Returns:
        The sweep's result, its reports written.
    """
    if options.backend == "loky":
        check_framework()  # the workers run here: a missing framework is one line, not a crash per worker
    backend_options = {
        "jobs": options.jobs,
        "study_file": str(study_path),
        "scheduler": options.scheduler,
        "storage": options.storage,
        "gpus": options.gpus,
    }
    with closing(open_backend(options.backend, **backend_options)) as workers:
        probe = workers.probe(str(study_path))
        for message in probe.warnings:  # each worker recorded them; shown once here
            warnings.warn(message, SweeperDeprecationWarning, stacklevel=4)
        plan = _plan(probe, options, follow_up)
        storage = options.storage or default_storage(options.runs_path / probe.name)
        epoch_budget = _epoch_budget(probe, options, follow_up)
        config = SweepConfig(
            str(study_path),
            storage,
            str(options.runs_path),
            retries=plan.policy.retries,
            epoch_budget=epoch_budget,
            trial_timeout=probe.trial_timeout if options.trial_timeout is None else options.trial_timeout,
            keep_checkpoints=_keep_checkpoints(probe, options),
            min_free_gb=options.min_free_gb,
            resume_trials=options.resume_trials,
        )
        name = follow_up.name if follow_up else probe.name
        check_artifact_dir(artifact_dir(options.runs_path, name))  # before the study is written to
        study = _open_study(probe, config, study_path, name)
        record_targets(study, plan.n_trials, config.epoch_budget, probe.epochs)
        reporter = _progress(study, probe, config, plan, workers.describe()) if options.progress else None
        ref = StudyRef(name, storage, options.runs_path)
        try:
            workers.sweep(study, config, plan, reporter)
        except SweepAborted:
            retain_checkpoints(study, config.runs_dir, config.keep_checkpoints)
            write_report(build_report(ref, study), options.reports_dir / name)
            raise
        # Trials the driver ended (a dead or hung worker's) had no pass of their own.
        retain_checkpoints(study, config.runs_dir, config.keep_checkpoints)
    return sweep_result(ref, study, options.reports_dir)


def sweep_result(ref: StudyRef, study: optuna.Study, reports_dir: Path) -> SweepResult:
    """Writes the reports and sums the sweep up."""
    written = write_report(build_report(ref, study), reports_dir / ref.name)
    trials = study.get_trials(deepcopy=False)
    return SweepResult(ref.name, redact(ref.storage), count_results(trials), best_trial(study), written["report.html"])


def record_targets(study: optuna.Study, n_trials: int, epoch_budget: int | None, epochs: int) -> None:
    """Stores the sweep's ``n_trials``, epoch budget and epochs with the study, for ``sweeper status``."""
    for key, value in (("n_trials", n_trials), ("epoch_budget", epoch_budget), ("epochs", epochs)):
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)


def _plan(probe: ProbeResult, options: SweepOptions, follow_up: FollowUp | None) -> SweepPlan:
    """The sweep's size and fault policy: the options where given, else the study's."""
    policy = FaultPolicy(
        retries=whole_number_option("--retries", probe.retries if options.retries is None else options.retries),
        fail_fast=fail_fast_option(probe.fail_fast if options.fail_fast is None else options.fail_fast),
    )
    if follow_up is not None:
        return SweepPlan(follow_up.n_trials, policy, None, on_tail=import_report_libraries)
    n_trials = positive_option("--n-trials", probe.n_trials if options.n_trials is None else options.n_trials)
    # The last trials leave cores idle: the driver imports what the reports need meanwhile.
    return SweepPlan(n_trials, policy, probe.timeout, on_tail=import_report_libraries)


def _keep_checkpoints(probe: ProbeResult, options: SweepOptions) -> int | None:
    """The option's ``keep_checkpoints`` where given, else the study's; ``None`` keeps all."""
    if options.keep_checkpoints is None:
        return probe.keep_checkpoints
    return keep_checkpoints_value("--keep-checkpoints", options.keep_checkpoints)


def _epoch_budget(probe: ProbeResult, options: SweepOptions, follow_up: FollowUp | None) -> int | None:
    if follow_up is not None:
        return None  # a follow-up runs to its end: the study file's budget was the search's
    return probe.epoch_budget if options.epoch_budget is None else options.epoch_budget


def _open_study(probe: ProbeResult, config: SweepConfig, study_path: Path, name: str) -> optuna.Study:
    """The study, created or resumed, cleared of what a killed earlier run left behind."""
    storage = open_storage(config.storage, config.heartbeat, config.retries)
    sampler = driver_sampler(probe, study_path)
    if name == probe.name:
        study = open_or_create_study(probe, storage, sampler, redact(config.storage))
    else:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    recover_trials(study)
    remove_stale_checkpoint_files(Path(config.runs_dir) / name / "trials")
    return study


def _progress(study: optuna.Study, probe: ProbeResult, config: SweepConfig, plan: SweepPlan, workers: str) -> Progress:
    # On a terminal, the running trials' live table under the lines; elsewhere the lines alone.
    trials_dir = Path(config.runs_dir) / study.study_name / "trials"
    reporter = progress_for(study, trials_dir, plan.n_trials, probe.monitor, probe.mode, config.epoch_budget)
    reporter.start(workers, redact(config.storage), study.get_trials(deepcopy=False))
    return reporter
