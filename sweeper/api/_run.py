"""``sweeper.run``: a sweep from a study file, on any backend, ending in its reports."""

from __future__ import annotations

import functools
import os
import sys
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
from sweeper.execution._open_study import driver_sampler, open_or_create_study
from sweeper.execution._options import fail_fast_option, positive_option, whole_number_option
from sweeper.execution._progress import Progress
from sweeper.reports._build import build_report, import_report_libraries
from sweeper.reports._write import write_report
from sweeper.storage._catalog import StudyRef, best_trial
from sweeper.storage._open import default_storage, is_rdb_url, open_storage
from sweeper.storage._redact import redact
from sweeper.study._loader import check_study_file
from sweeper.study._peek import peek_study_file
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import ProbeResult, count_results, epoch_budget_spent

T = TypeVar("T")


def _optuna_quiet(function: Callable[..., T]) -> Callable[..., T]:
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


@_optuna_quiet
def run(
    study_file: str | os.PathLike[str],
    *,
    jobs: int = 1,
    n_trials: int | None = None,
    retries: int | None = None,
    fail_fast: int | None = None,
    epoch_budget: int | None = None,
    storage: str | None = None,
    runs_dir: str | os.PathLike[str] = "runs",
    reports_dir: str | os.PathLike[str] = "reports",
    progress: bool = True,
    backend: str = "loky",
    scheduler: str | None = None,
) -> SweepResult:
    """Runs (or resumes) the sweep a study file declares.

    Args:
        study_file: The study file.
        jobs: Worker processes, each reused across trials. Defaults to ``1``.
        n_trials: Finished trials the study should hold; overrides the study's.
            Defaults to ``None``.
        retries: Times a trial whose worker died runs again with the same params;
            overrides the study's. Defaults to ``None``.
        fail_fast: Stop once this many trials have failed in user code and none has
            succeeded (``0`` never stops); overrides the study's. Defaults to ``None``.
        epoch_budget: Start no trial once the study's trials have trained this many
            epochs in all; overrides the study's. Defaults to ``None``.
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
    jobs = positive_option("--jobs", jobs)
    _check_overrides(n_trials, retries, fail_fast, epoch_budget)
    study_path = check_study_file(study_file).resolve()
    runs_path = Path(runs_dir).resolve()
    if storage is not None:
        open_storage(storage)  # an unreachable server is one line now, not after TensorFlow has loaded
    done = _nothing_to_do(study_path, n_trials, epoch_budget, storage, runs_path, Path(reports_dir), progress)
    if done is not None:
        return done
    if backend == "loky":
        _warn_if_oversubscribed(jobs)
    backend_options = {"jobs": jobs, "study_file": str(study_path), "scheduler": scheduler, "storage": storage}
    with closing(open_backend(backend, **backend_options)) as workers:
        probe = workers.probe(str(study_path))
        for message in probe.warnings:  # each worker recorded them; shown once here
            warnings.warn(message, SweeperDeprecationWarning, stacklevel=3)
        plan = _plan(probe, n_trials, retries, fail_fast)
        storage = storage or default_storage(runs_path / probe.name)
        epoch_budget = probe.epoch_budget if epoch_budget is None else epoch_budget
        config = SweepConfig(
            str(study_path), storage, str(runs_path), retries=plan.policy.retries, epoch_budget=epoch_budget
        )
        study = _open_study(probe, config, study_path)
        reporter = _progress(study, probe, config, plan, workers.describe()) if progress else None
        ref = StudyRef(probe.name, storage, runs_path)
        try:
            workers.sweep(study, config, plan, reporter)
        except SweepAborted:
            write_report(build_report(ref, study), Path(reports_dir) / probe.name)
            raise
    return _result(ref, study, Path(reports_dir))


def _check_overrides(
    n_trials: int | None, retries: int | None, fail_fast: int | None, epoch_budget: int | None
) -> None:
    """The options' own values, checked before the study file runs (the study's are checked there)."""
    for option, value in (("--n-trials", n_trials), ("--epoch-budget", epoch_budget)):
        if value is not None:
            positive_option(option, value)
    if retries is not None:
        whole_number_option("--retries", retries)
    fail_fast_option(fail_fast)


def _warn_if_oversubscribed(jobs: int) -> None:
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
    return _result(ref, study, reports_dir)


def _result(ref: StudyRef, study: optuna.Study, reports_dir: Path) -> SweepResult:
    """Writes the reports and sums the sweep up."""
    written = write_report(build_report(ref, study), reports_dir / ref.name)
    trials = study.get_trials(deepcopy=False)
    return SweepResult(ref.name, redact(ref.storage), count_results(trials), best_trial(study), written["report.html"])


def _plan(probe: ProbeResult, n_trials: int | None, retries: int | None, fail_fast: int | None) -> SweepPlan:
    """The sweep's size and fault policy: the options where given, else the study's."""
    policy = FaultPolicy(
        retries=whole_number_option("--retries", probe.retries if retries is None else retries),
        fail_fast=fail_fast_option(probe.fail_fast if fail_fast is None else fail_fast),
    )
    n_trials = positive_option("--n-trials", probe.n_trials if n_trials is None else n_trials)
    # The last trials leave cores idle: the driver imports what the reports need meanwhile.
    return SweepPlan(n_trials, policy, probe.timeout, on_tail=import_report_libraries)


def _open_study(probe: ProbeResult, config: SweepConfig, study_path: Path) -> optuna.Study:
    """The study, created or resumed, cleared of what a killed earlier run left behind."""
    storage = open_storage(config.storage, config.heartbeat, config.retries)
    study = open_or_create_study(probe, storage, driver_sampler(probe, study_path), redact(config.storage))
    recover_trials(study)
    remove_stale_checkpoint_files(Path(config.runs_dir) / probe.name / "trials")
    return study


def _progress(study: optuna.Study, probe: ProbeResult, config: SweepConfig, plan: SweepPlan, workers: str) -> Progress:
    reporter = Progress(plan.n_trials, probe.monitor, probe.mode, config.epoch_budget)
    reporter.start(workers, redact(config.storage), study.get_trials(deepcopy=False))
    return reporter
