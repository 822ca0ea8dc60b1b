"""The sweep driver: asks Optuna for trials and runs them on joblib (loky) worker processes."""

from __future__ import annotations

import os
import pickle
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from joblib.externals.loky import get_reusable_executor
from optuna.trial import FrozenTrial, TrialState

from sweeper._algorithms import make_sampler
from sweeper._catalog import StudyRef, best_trial
from sweeper._errors import StudyFileError
from sweeper._loader import check_study_file, load_study_file
from sweeper._outcome import ProbeResult, StopReason, TrialOutcome, count_results
from sweeper._progress import Progress
from sweeper._storage import default_storage, open_storage, redact
from sweeper._worker import SweepConfig, initialize_worker, probe_in_worker, trial_in_worker
from sweeper.callbacks import SweeperDeprecationWarning
from sweeper.reports._report import build_report, write_report

# Idle workers stay up this long, so back-to-back sweeps reuse warm TensorFlow.
WORKER_IDLE_TIMEOUT_S = 120
# A worker is recycled once it has grown this much since its first trial (DESIGN §9: < 100 MB).
WORKER_MEMORY_BUDGET_MB = float(os.environ.get("SWEEPER_WORKER_MEMORY_MB", "80"))


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
    storage: str | None = None,
    runs_dir: str | os.PathLike[str] = "runs",
    reports_dir: str | os.PathLike[str] = "reports",
    progress: bool = True,
) -> SweepResult:
    """Runs (or resumes) the sweep a study file declares.

    Args:
        study_file: The study file.
        jobs: Worker processes, each reused across trials. Defaults to ``1``.
        n_trials: Finished trials the study should hold; overrides the study's.
            Defaults to ``None``.
        storage: An Optuna RDB URL or a journal file path. Defaults to
            ``runs/<study>/journal.log``.
        runs_dir: Where trial artifacts go. Defaults to ``"runs"``.
        reports_dir: Where reports go. Defaults to ``"reports"``.
        progress: Print a line per finished trial. Defaults to ``True``.

    Returns:
        The sweep's result.

    Raises:
        StudyFileError: For bad input, before anything is written.
    """
    jobs = _positive("--jobs", jobs)
    study_path = check_study_file(study_file)
    # Workers import Keras; the driver never does, so it leaves both cores to them.
    probe = _executor(jobs).submit(probe_in_worker, str(study_path.resolve())).result()
    for message in probe.warnings:
        warnings.warn(message, SweeperDeprecationWarning, stacklevel=2)
    n_trials = _positive("--n-trials", probe.n_trials if n_trials is None else n_trials)
    runs_path = Path(runs_dir).resolve()
    storage = storage or default_storage(runs_path / probe.name)
    config = SweepConfig(str(study_path.resolve()), storage, str(runs_path))
    optuna_study = _open_study(probe, storage, _driver_sampler(probe, study_path))
    _fail_abandoned_trials(optuna_study)
    already = count_results(optuna_study.get_trials(deepcopy=False))
    reporter = Progress(n_trials, probe.monitor, probe.mode, already) if progress else None
    if reporter:
        reporter.start(jobs, redact(storage))
    _drive(optuna_study, probe, config, jobs, n_trials, reporter)

    ref = StudyRef(probe.name, storage, runs_path)
    written = write_report(build_report(ref, optuna_study), Path(reports_dir) / probe.name)
    trials = optuna_study.get_trials(deepcopy=False)
    return SweepResult(probe.name, redact(storage), count_results(trials), best_trial(optuna_study), written["report.html"])


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


def _positive(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StudyFileError(f"{option}={value!r} must be a positive integer.", fix=f"e.g. {option} 2.")
    return value


def _executor(jobs: int) -> Any:
    # Budget TensorFlow's threads so that N workers share the cores instead of fighting over them.
    intra_op_threads = max(1, (os.cpu_count() or 1) // jobs)
    return get_reusable_executor(
        max_workers=jobs,
        timeout=WORKER_IDLE_TIMEOUT_S,
        initializer=initialize_worker,
        initargs=(intra_op_threads, 1, WORKER_MEMORY_BUDGET_MB),
        env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def _open_study(probe: ProbeResult, storage: str, sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    """Creates the Optuna study, or loads it to resume, checking its direction."""
    backend = open_storage(storage)
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
            f"study {probe.name!r} in {redact(storage)} was created to {existing.direction.name.lower()} "
            f"{existing.user_attrs.get('monitor', 'its monitor')}, but monitor={probe.monitor!r} would {probe.direction} it.",
            fix="give the study a new name, or point --storage elsewhere.",
        )
    return existing


def _fail_abandoned_trials(study: optuna.Study) -> None:
    """Ends trials a killed earlier run left RUNNING, so they are retried, not counted."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, "stop_reason", StopReason.INTERRUPTED.value)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def _drive(
    optuna_study: optuna.Study,
    probe: ProbeResult,
    config: SweepConfig,
    jobs: int,
    n_trials: int,
    reporter: Progress | None,
) -> None:
    """Keeps ``jobs`` trials running until the study holds ``n_trials`` results."""
    deadline = None if probe.timeout is None else time.monotonic() + probe.timeout
    in_flight: dict[Future, optuna.Trial] = {}
    while True:
        results = count_results(optuna_study.get_trials(deepcopy=False))
        while len(in_flight) < jobs and results + len(in_flight) < n_trials and not _past(deadline):
            trial = optuna_study.ask()
            # Asked anew each time: loky hands back the same pool, or a fresh one if a worker died.
            in_flight[_executor(jobs).submit(trial_in_worker, config, probe.name, trial._trial_id)] = trial
        if not in_flight:
            return
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            outcome = _outcome_of(future, in_flight.pop(future), optuna_study)
            if reporter:
                reporter.update(outcome)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _outcome_of(future: Future, trial: optuna.Trial, study: optuna.Study) -> TrialOutcome:
    """The worker's outcome; a trial whose worker raised is failed here instead."""
    try:
        return future.result()
    except Exception as error:
        message = redact(f"the worker could not run the trial: {type(error).__name__}: {error}")
        storage = study._storage
        if storage.get_trial(trial._trial_id).state == TrialState.RUNNING:
            storage.set_trial_user_attr(trial._trial_id, "stop_reason", StopReason.ERROR.value)
            storage.set_trial_user_attr(trial._trial_id, "error", message)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        return TrialOutcome(trial.number, "FAIL", None, StopReason.ERROR.value, message)

