"""The functions worker processes run: the entry points both backends submit.

Loky and Dask pickle these by reference, so the driver imports only this module
and Keras loads in the workers alone: every import of Keras or TensorFlow here is
inside a function.
"""

from __future__ import annotations

import os
import signal

from sweeper._compat import disable_loky_memory_check
from sweeper.execution._native_logs import filter_native_logs
from sweeper.trial._config import SweepConfig
from sweeper.trial._context import worker_context
from sweeper.trial._outcome import ProbeResult, TrialOutcome


def initialize_worker(intra_op_threads: int, inter_op_threads: int) -> None:
    """Runs once when a loky worker process starts: TF import and thread budget.

    Args:
        intra_op_threads: Threads TensorFlow uses inside one op.
        inter_op_threads: Ops TensorFlow runs at once.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    filter_native_logs()  # before the framework's import, whose C++ logging ignores that variable now
    # Ctrl-C reaches the whole process group; the driver alone decides how the
    # sweep stops, and ends this worker's trial as interrupted.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    disable_loky_memory_check()  # the pool recycles workers itself (backends/local/_recycle.py)
    _import_tensorflow(intra_op_threads, inter_op_threads)


def _import_tensorflow(intra_op_threads: int, inter_op_threads: int) -> None:
    import optuna
    import tensorflow as tf

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)


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


def probe_in_worker(study_file: str) -> ProbeResult:
    """Runs :func:`sweeper.trial._probe.probe_study` in a worker."""
    from sweeper.trial._probe import probe_study

    return probe_study(study_file)


def trial_in_worker(config: SweepConfig, study_name: str, trial_id: int) -> TrialOutcome:
    """Runs :func:`sweeper.trial._runner.run_trial` in a worker."""
    from sweeper.trial._runner import run_trial

    return run_trial(config, study_name, trial_id)


# A Dask worker is a long-lived process that runs tasks in a thread: TensorFlow and
# the study load once per process there too.
_tensorflow_ready = False


def prepare_dask_worker(intra_op_threads: int) -> None:
    """Imports TensorFlow in this Dask worker process with its thread budget, once.

    Args:
        intra_op_threads: Threads TensorFlow uses inside one op.
    """
    global _tensorflow_ready
    if _tensorflow_ready:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    filter_native_logs()
    try:
        _import_tensorflow(intra_op_threads, 1)
    except RuntimeError:
        pass  # TensorFlow already ran in this process (another task's doing); keep its threads
    _tensorflow_ready = True


def probe_in_dask_worker(study_file: str, intra_op_threads: int) -> ProbeResult:
    """Runs :func:`sweeper.trial._probe.probe_study` on a Dask worker."""
    prepare_dask_worker(intra_op_threads)
    return probe_in_worker(study_file)


def work_in_dask_worker(config: SweepConfig, study_name: str, n_trials: int, intra_op_threads: int) -> tuple[int, int]:
    """Runs :func:`sweeper.execution._worker_loop.work` on a Dask worker; returns ``(pid, trials run)``."""
    prepare_dask_worker(intra_op_threads)
    from sweeper.execution._worker_loop import work

    return os.getpid(), work(config, study_name, n_trials)
