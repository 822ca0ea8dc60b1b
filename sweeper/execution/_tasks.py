"""The functions worker processes run: the entry points both backends submit.

Loky and Dask pickle these by reference, so the driver imports only this module
and Keras loads in the workers alone: every import of Keras or its framework is
inside a function.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sweeper._compat import disable_loky_memory_check
from sweeper._errors import DeviceBroken
from sweeper.execution._cpus import confine_process
from sweeper.execution._framework import keras_backend
from sweeper.execution._gpu_env import memory_share_env
from sweeper.execution._native_logs import filter_native_logs
from sweeper.execution._worker_setup import import_framework
from sweeper.trial._config import SweepConfig
from sweeper.trial._context import worker_context
from sweeper.trial._device import TRIALS_PER_GPU_ENV
from sweeper.trial._outcome import ProbeResult, TrialOutcome


def initialize_worker(intra_op_threads: int, inter_op_threads: int) -> None:
    """Runs once when a loky worker process starts: the framework's import, thread budget and GPU share.

    Args:
        intra_op_threads: Threads the framework uses inside one op.
        inter_op_threads: Ops the framework runs at once.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    filter_native_logs()  # before the framework's import, whose C++ logging ignores that variable now
    # Ctrl-C reaches the whole process group; the driver alone decides how the
    # sweep stops, and ends this worker's trial as interrupted.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    disable_loky_memory_check()  # the pool recycles workers itself (backends/local/_recycle.py)
    import_framework(intra_op_threads, inter_op_threads)


def worker_ready(study_file: str | None = None) -> int:
    """A worker's first task: once it returns, the worker has imported its framework.

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


# A Dask worker is a long-lived process that runs tasks in a thread: the framework and
# the study load once per process there too.
_framework_ready = False
# Why this Dask worker's GPU context broke, once a trial broke it; it then runs no trial.
_broken_by: str | None = None


def prepare_dask_worker(intra_op_threads: int, trials_per_gpu: int = 1, cpus: Sequence[int] | None = None) -> None:
    """Imports the framework in this Dask worker process with its thread budget and GPU share, once.

    A worker started one per GPU (dask-cuda's) already has its ``CUDA_VISIBLE_DEVICES``;
    with ``trials_per_gpu`` above 1, its framework caps its memory to its share.

    Args:
        intra_op_threads: Threads the framework uses inside one op.
        trials_per_gpu: Trials that share this worker's GPU. Defaults to ``1``.
        cpus: This worker's share of its host's cores, to which a JAX worker is confined
            (XLA's threads follow the cores, see :mod:`sweeper.execution._cpus`).
            Defaults to ``None``: all of them.
    """
    global _framework_ready
    if cpus and keras_backend() == "jax":
        # Each sweep: its share comes from the host's workers then, which may have changed.
        confine_process(cpus)
    if _framework_ready:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if trials_per_gpu > 1:
        os.environ.update({TRIALS_PER_GPU_ENV: str(trials_per_gpu), **memory_share_env(trials_per_gpu)})
    filter_native_logs()
    try:
        import_framework(intra_op_threads, 1)
    except RuntimeError:
        pass  # the framework already ran in this process (another task's doing); keep its threads
    _framework_ready = True


def probe_in_dask_worker(
    study_file: str, intra_op_threads: int, trials_per_gpu: int = 1, cpus: Sequence[int] | None = None
) -> ProbeResult:
    """Runs :func:`sweeper.trial._probe.probe_study` on a Dask worker."""
    prepare_dask_worker(intra_op_threads, trials_per_gpu, cpus)
    return probe_in_worker(study_file)


@dataclass(frozen=True)
class LoopEnd:
    """How a worker loop on a Dask worker ended.

    Args:
        pid: The worker's process id.
        ran: Trials the loop ran.
        address: The Dask worker's address.
        broken: Why its GPU context broke, when a trial broke it: the worker must be
            restarted before it runs another. Defaults to ``None``.
    """

    pid: int
    ran: int
    address: str
    broken: str | None = None


def work_in_dask_worker(
    config: SweepConfig,
    study_name: str,
    n_trials: int,
    shares: Mapping[str, Sequence[int]],
    trials_per_gpu: int = 1,
) -> LoopEnd:
    """Runs :func:`sweeper.execution._worker_loop.work` on a Dask worker.

    Args:
        config: The sweep.
        study_name: The Optuna study.
        n_trials: Results the study should hold.
        shares: Each Dask worker's share of its host's cores, by address; a worker not
            in it (restarted since) keeps the cores it has.
        trials_per_gpu: Trials that share this worker's GPU. Defaults to ``1``.

    Returns:
        How the loop ended; a broken GPU context ends it early, for the driver to restart the worker.
    """
    from distributed import get_worker

    from sweeper.execution._worker_loop import work

    global _broken_by
    address = get_worker().address
    if _broken_by is not None:
        # A loop that landed here before the driver restarted this worker: it must run nothing.
        return LoopEnd(os.getpid(), 0, address, broken=_broken_by)
    cpus = shares.get(address)
    threads = len(cpus) if cpus else max(1, min((len(share) for share in shares.values()), default=1))
    prepare_dask_worker(threads, trials_per_gpu, cpus)
    try:
        return LoopEnd(os.getpid(), work(config, study_name, n_trials), address)
    except DeviceBroken as error:
        _broken_by = f"trial {error.trial_number} broke its GPU context"
        return LoopEnd(os.getpid(), 0, address, broken=_broken_by)
