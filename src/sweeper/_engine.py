"""The sweep driver: asks Optuna for trials and runs them on joblib (loky) worker processes."""

from __future__ import annotations

import os
import pickle
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial

from sweeper._algorithms import make_sampler
from sweeper._catalog import StudyRef, best_trial
from sweeper._errors import StudyFileError
from sweeper._loader import check_study_file, load_study_file
from sweeper._driver import FaultPolicy, SweepDriver
from sweeper._faults import SweepAborted, recover_abandoned_trials
from sweeper._interrupts import signals_deferred, terminate_as_interrupt
from sweeper._outcome import STOP_REQUESTED_ATTR, ProbeResult, count_results
from sweeper._pool import WorkerDied, WorkerPool
from sweeper._progress import Progress
from sweeper._heartbeat import has_heartbeat, reap_stale_trials
from sweeper._storage import default_storage, is_rdb_url, open_storage, redact
from sweeper._worker import SweepConfig, probe_in_worker
from sweeper.callbacks._temp_files import remove_stale_checkpoint_files
from sweeper.callbacks import SweeperDeprecationWarning
from sweeper.reports._report import build_report, import_report_libraries, write_report

if TYPE_CHECKING:
    from sweeper._dask import DaskCluster

# A worker is recycled once it has grown this much since its first trial (DESIGN §9: < 100 MB).
WORKER_MEMORY_BUDGET_MB = float(os.environ.get("SWEEPER_WORKER_MEMORY_MB", "80"))
BACKENDS = ("loky", "dask")


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
    study_path = check_study_file(study_file)
    with ExitStack() as cleanup:
        cluster = _dask_cluster(backend, scheduler, storage, cleanup)
        pool = None if cluster else WorkerPool(jobs, WORKER_MEMORY_BUDGET_MB, str(study_path.resolve()))
        if pool:
            pool.start()  # every worker imports TensorFlow while the probe runs
        probe = cluster.probe(str(study_path.resolve())) if cluster else _probe(pool, study_path)
        for message in probe.warnings:
            warnings.warn(message, SweeperDeprecationWarning, stacklevel=2)
        n_trials = positive_option("--n-trials", probe.n_trials if n_trials is None else n_trials)
        policy = FaultPolicy(
            retries=whole_number_option("--retries", probe.retries if retries is None else retries),
            fail_fast=_fail_fast_limit(probe.fail_fast if fail_fast is None else fail_fast),
        )
        runs_path = Path(runs_dir).resolve()
        storage = storage or default_storage(runs_path / probe.name)
        epoch_budget = probe.epoch_budget if epoch_budget is None else positive_option("--epoch-budget", epoch_budget)
        config = SweepConfig(str(study_path.resolve()), storage, str(runs_path), retries=policy.retries,
                             epoch_budget=epoch_budget)
        optuna_study = open_or_create_study(probe, open_storage(storage, config.heartbeat, policy.retries),
                                   _driver_sampler(probe, study_path), redact(storage))
        _recover(optuna_study)
        remove_stale_checkpoint_files(runs_path / probe.name / "trials")
        already = count_results(optuna_study.get_trials(deepcopy=False))
        reporter = Progress(n_trials, probe.monitor, probe.mode, already, epoch_budget) if progress else None
        if reporter:
            workers = f"{len(cluster.threads)} Dask worker(s) at {cluster.scheduler}" if cluster else f"{jobs} worker process(es)"
            reporter.start(workers, redact(storage))
        ref = StudyRef(probe.name, storage, runs_path)
        try:
            if cluster:
                _drive_cluster(cluster, optuna_study, config, n_trials, reporter)
            else:
                # The last trials leave cores idle: the driver imports what the reports need meanwhile.
                _drive(SweepDriver(optuna_study, config, pool, n_trials, policy, probe.timeout, reporter,
                                   on_tail=import_report_libraries))
        except SweepAborted:
            write_report(build_report(ref, optuna_study), Path(reports_dir) / probe.name)
            raise

    written = write_report(build_report(ref, optuna_study), Path(reports_dir) / probe.name)
    trials = optuna_study.get_trials(deepcopy=False)
    return SweepResult(probe.name, redact(storage), count_results(trials), best_trial(optuna_study), written["report.html"])


def _dask_cluster(backend: str, scheduler: str | None, storage: str | None, cleanup: ExitStack) -> DaskCluster | None:
    """The Dask cluster for ``backend="dask"``, checked before anything runs; ``None`` for loky."""
    if backend == "loky":
        return None
    if backend != "dask":
        raise StudyFileError(f"--backend={backend!r} is not one of {BACKENDS}.", fix="use --backend loky or --backend dask.")
    if not scheduler:
        raise StudyFileError("--backend dask needs --scheduler.", fix="e.g. --scheduler tcp://host:8786.")
    if not storage or not is_rdb_url(storage):
        raise StudyFileError("--backend dask needs --storage with a database URL that every worker reaches.",
                             fix="e.g. --storage postgresql+psycopg://user:pw@host/db (a journal file is one machine's).")
    from sweeper._dask import DaskCluster

    cluster = DaskCluster(scheduler)
    cleanup.callback(cluster.close)
    return cluster


def _drive_cluster(cluster: DaskCluster, study: optuna.Study, config: SweepConfig, n_trials: int,
                   reporter: Progress | None) -> None:
    """Runs the study on the cluster; Ctrl-C asks every worker loop to stop after its trial."""
    study.set_user_attr(STOP_REQUESTED_ATTR, False)
    try:
        cluster.sweep(study, config, n_trials, reporter)
    except KeyboardInterrupt:
        with signals_deferred():
            study.set_user_attr(STOP_REQUESTED_ATTR, True)
        raise


def _recover(study: optuna.Study) -> None:
    """Ends trials that earlier runs' dead workers left RUNNING, queuing their retries.

    With heartbeats (an RDB storage), only stale trials: other machines' workers
    may be running the rest. A journal file has one driver, so every RUNNING
    trial there was abandoned.
    """
    if has_heartbeat(study._storage):
        reap_stale_trials(study)
        return
    recover_abandoned_trials(study)


def _drive(driver: SweepDriver) -> None:
    """Runs the driver; on any way out but success, stops the workers and their trials first."""
    with terminate_as_interrupt():
        try:
            driver.run()
        except BaseException:
            with signals_deferred():
                driver.stop()
            raise


def _probe(pool: WorkerPool, study_path: Path) -> ProbeResult:
    # Workers import Keras; the driver never does, so it leaves both cores to them.
    future = pool.submit(probe_in_worker, str(study_path.resolve()))
    try:
        return pool.result(future)
    except WorkerDied as death:
        raise StudyFileError(f"loading the study or building its first model killed the worker: {death}",
                             source=str(study_path), fix="run the study's model function alone to find the crash.") from None


def _driver_sampler(probe: ProbeResult, study_path: Path) -> optuna.samplers.BaseSampler:
    """The sampler that asks for trials, sent over by the probe.

    A sampler that does not pickle (its class lives in the study file) is rebuilt
    by loading the study file here, at the cost of a TensorFlow import.
    """
    if probe.sampler is not None:
        try:
            return pickle.loads(probe.sampler)
        except Exception:
            pass
    return make_sampler(load_study_file(study_path))


def positive_option(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StudyFileError(f"{option}={value!r} must be a positive integer.", fix=f"e.g. {option} 2.")
    return value


def open_or_create_study(probe: ProbeResult, backend: optuna.storages.BaseStorage, sampler: optuna.samplers.BaseSampler,
                shown_storage: str) -> optuna.Study:
    """Creates the Optuna study, or loads it to resume, checking its direction."""
    try:
        existing = optuna.load_study(study_name=probe.name, storage=backend, sampler=sampler)
    except KeyError:
        created = optuna.create_study(study_name=probe.name, storage=backend, sampler=sampler, direction=probe.direction)
        created.set_user_attr("monitor", probe.monitor)
        created.set_user_attr("mode", probe.mode)
        for params, user_attrs in probe.planned_trials:
            created.enqueue_trial(params, user_attrs=user_attrs)
        return created
    if existing.direction.name.lower() != probe.direction:
        raise StudyFileError(
            f"study {probe.name!r} in {shown_storage} was created to {existing.direction.name.lower()} "
            f"{existing.user_attrs.get('monitor', 'its monitor')}, but monitor={probe.monitor!r} would {probe.direction} it.",
            fix="give the study a new name, or point --storage elsewhere.",
        )
    return existing


def whole_number_option(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StudyFileError(f"{option}={value!r} must be a whole number, 0 or more.", fix=f"e.g. {option} 1.")
    return value


def _fail_fast_limit(value: Any) -> int | None:
    """``0`` and ``None`` turn fail-fast off."""
    if value is None or value == 0:
        return None
    return positive_option("--fail-fast", value)
