"""Worker-process state: TensorFlow, the study file and its data, loaded once per process."""

from __future__ import annotations

import gc
import os
import signal
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from sweeper._data import StudyData, study_data
from sweeper._errors import StudyFileError
from sweeper._heartbeat import HeartbeatPolicy
from sweeper._loader import load_study_file, location_in
from sweeper._outcome import ProbeResult, TrialOutcome
from sweeper._study import Study


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
    """

    study_file: str
    storage: str
    runs_dir: str
    heartbeat: HeartbeatPolicy = field(default_factory=HeartbeatPolicy.from_env)
    retries: int = 1
    epoch_budget: int | None = None

    def trial_dir(self, study_name: str, number: int) -> Path:
        return Path(self.runs_dir) / study_name / "trials" / str(number)


@dataclass
class WorkerContext:
    """A study file loaded in a worker, with its data, reused across trials."""

    key: tuple[str, float]
    study: Study
    data: StudyData
    warnings: tuple[str, ...] = ()
    cache: dict[str, Any] = field(default_factory=dict)


_context: WorkerContext | None = None


def initialize_worker(intra_op_threads: int, inter_op_threads: int) -> None:
    """Runs once when a worker process starts: TF import and thread budget.

    Args:
        intra_op_threads: Threads TensorFlow uses inside one op.
        inter_op_threads: Ops TensorFlow runs at once.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Ctrl-C reaches the whole process group; the driver alone decides how the
    # sweep stops, and ends this worker's trial as interrupted.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _disable_loky_memory_check()
    import optuna
    import tensorflow as tf

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)


def _disable_loky_memory_check() -> None:
    """Turns off loky's own leak check; the pool recycles workers (``sweeper._recycle``).

    Loky exits a worker whose RSS grew 300 MB since its first task, which may be
    the light warm-up task, and it gives no notice, so no replacement is ready.
    """
    from joblib.externals.loky import process_executor

    process_executor._MAX_MEMORY_LEAK_SIZE = 2**62


def record_trial_memory() -> float:
    """The worker's RSS in MB after a trial, which the pool reads to recycle workers."""
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def worker_context(study_file: str) -> WorkerContext:
    """The loaded study and data of ``study_file``, loading them on first use.

    A changed study file (by modification time) is loaded again.
    """
    global _context
    path = Path(study_file)
    key = (str(path), path.stat().st_mtime)
    if _context is not None and _context.key == key:
        return _context
    _context = None  # Free the previous study's data before loading the next.
    # Recorded, not printed: the driver shows them once instead of once per worker.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = load_study_file(path)
    _context = WorkerContext(key, study, _load_data(study, path), tuple(str(w.message) for w in caught))
    # TensorFlow, the study and its data live as long as the worker: freezing them
    # keeps every later garbage collection from walking ~400k long-lived objects.
    gc.collect()
    gc.freeze()
    return _context


def _load_data(study: Study, path: Path) -> StudyData:
    try:
        loaded = study.data()
    except Exception as error:
        raise StudyFileError(
            f"data() raised {type(error).__name__}: {error}", source=location_in(path, error), fix="fix the data function."
        ) from None
    try:
        return study_data(loaded)
    except StudyFileError as error:
        raise error.with_source(str(path)) from None


def worker_ready(study_file: str | None = None) -> int:
    """A worker's first task: once it returns, the worker has imported TensorFlow.

    Given a study file, it also loads the study and its data, so that every worker
    does so at once instead of each in its first trial. An error here is left to
    the probe and the trials to report, with their context.

    Args:
        study_file: The study file's absolute path. Defaults to ``None``.

    Returns:
        The worker's pid.
    """
    if study_file is not None:
        worker_context(study_file)
    return os.getpid()


# The driver submits these two. Loky pickles them by reference, so the driver imports
# only this module, and Keras loads in the workers alone.
def probe_in_worker(study_file: str) -> ProbeResult:
    """Runs :func:`sweeper._trial_runner.probe_study` in a worker."""
    from sweeper._trial_runner import probe_study

    return probe_study(study_file)


def trial_in_worker(config: SweepConfig, study_name: str, trial_id: int) -> TrialOutcome:
    """Runs :func:`sweeper._trial_runner.run_trial` in a worker."""
    from sweeper._trial_runner import run_trial

    return run_trial(config, study_name, trial_id)


# The Dask backend submits these. A Dask worker is a long-lived process that runs
# tasks in a thread: TensorFlow and the study load once per process here too.
_tensorflow_ready = False


def prepare_dask_worker(intra_op_threads: int) -> None:
    """Imports TensorFlow in this Dask worker process with its thread budget, once."""
    global _tensorflow_ready
    if _tensorflow_ready:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import optuna
    import tensorflow as tf

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow already ran in this process (another task's doing); keep its threads
    _tensorflow_ready = True


def probe_in_dask_worker(study_file: str, intra_op_threads: int) -> ProbeResult:
    """Runs :func:`sweeper._trial_runner.probe_study` on a Dask worker."""
    prepare_dask_worker(intra_op_threads)
    return probe_in_worker(study_file)


def work_in_dask_worker(config: SweepConfig, study_name: str, n_trials: int, intra_op_threads: int) -> tuple[int, int]:
    """Runs :func:`sweeper._worker_loop.work` on a Dask worker; returns ``(pid, trials run)``."""
    prepare_dask_worker(intra_op_threads)
    from sweeper._worker_loop import work

    return os.getpid(), work(config, study_name, n_trials)
