"""``sweeper.run``: a sweep from a study file, on any backend, ending in its reports."""

from __future__ import annotations

import os
import warnings
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

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
from sweeper.storage._open import default_storage, open_storage
from sweeper.storage._redact import redact
from sweeper.study._loader import check_study_file
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import ProbeResult, count_results


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
    jobs = positive_option("--jobs", jobs)
    study_path = check_study_file(study_file).resolve()
    runs_path = Path(runs_dir).resolve()
    backend_options = {"jobs": jobs, "study_file": str(study_path), "scheduler": scheduler, "storage": storage}
    with closing(open_backend(backend, **backend_options)) as workers:
        probe = workers.probe(str(study_path))
        for message in probe.warnings:  # each worker recorded them; shown once here
            warnings.warn(message, SweeperDeprecationWarning, stacklevel=2)
        plan = _plan(probe, n_trials, retries, fail_fast)
        storage = storage or default_storage(runs_path / probe.name)
        epoch_budget = probe.epoch_budget if epoch_budget is None else positive_option("--epoch-budget", epoch_budget)
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
    written = write_report(build_report(ref, study), Path(reports_dir) / probe.name)
    return SweepResult(
        probe.name,
        redact(storage),
        count_results(study.get_trials(deepcopy=False)),
        best_trial(study),
        written["report.html"],
    )


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
    already = count_results(study.get_trials(deepcopy=False))
    reporter = Progress(plan.n_trials, probe.monitor, probe.mode, already, config.epoch_budget)
    reporter.start(workers, redact(config.storage))
    return reporter
