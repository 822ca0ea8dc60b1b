"""Worker processes for one machine: one loky executor per worker slot.

A single loky pool with N workers treats one dead worker as a broken pool: it
SIGKILLs every other worker and fails their tasks too. One single-worker executor
per slot confines a death to the trial that caused it, and tells the driver
exactly which trial that was. Each slot's worker is still reused across trials,
recycled past its memory budget (its replacement warmed up in advance), and kept
warm between back-to-back sweeps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import psutil
from joblib.externals.loky import ProcessPoolExecutor
from joblib.externals.loky.process_executor import BrokenProcessPool, ShutdownExecutorError

from sweeper._compat import loky_exit_codes, loky_worker_pids
from sweeper.backends.local._recycle import Recycle, WorkerMemory
from sweeper.execution._cpus import available_cpus
from sweeper.execution._tasks import initialize_worker, worker_ready

# Every worker's environment, under its slot's own: TensorFlow's C++ INFO lines off.
BASE_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}
# Idle workers stay up this long, so back-to-back sweeps reuse warm TensorFlow.
WORKER_IDLE_TIMEOUT_S = 120
# A spare idles from two trials before its worker retires until it takes over; long
# trials must not time it out, or the slot pays the cold start it was there to hide.
SPARE_IDLE_TIMEOUT_S = 1800


class WorkerDied(Exception):
    """The worker process running a task ended without returning (killed, crashed, OOM)."""


@dataclass
class _Worker:
    """One worker process (a single-worker executor) and its memory growth."""

    executor: ProcessPoolExecutor
    memory: WorkerMemory
    # Its replacement should start with the slot's next task; at a sweep's end there is none.
    wants_spare: bool = False


class WorkerPool:
    """``jobs`` worker processes, each running one task at a time.

    Args:
        jobs: How many worker processes.
        memory_budget_mb: Recycle a worker once its RSS has grown this much since
            its first trial. Tasks report the RSS as a ``worker_rss_mb`` attribute
            of their result.
        study_file: Every new worker loads this study and its data as soon as it
            has imported its framework. Defaults to ``None``.
        slot_envs: Each slot's environment variables (its GPU, the Keras backend),
            which every worker that slot ever runs starts with. Defaults to none.
    """

    def __init__(
        self,
        jobs: int,
        memory_budget_mb: float,
        study_file: str | None = None,
        slot_envs: list[dict[str, str]] | None = None,
    ) -> None:
        # Budget the framework's threads so that N workers share the cores instead of fighting over them.
        intra_op_threads = max(1, len(available_cpus()) // jobs)  # within any taskset the driver runs under
        self._initargs = (intra_op_threads, 1)
        self._memory_budget_mb = memory_budget_mb
        self._warm_up = functools.partial(worker_ready, study_file)
        self._slots: list[_Worker | None] = [None] * jobs
        self._envs = [{**BASE_ENV, **env} for env in (slot_envs or [{}] * jobs)]
        self._busy: dict[Future, int] = {}

    def start(self) -> None:
        """Starts every worker now, so all import TensorFlow (and load the study) at once, not slot by slot.

        Without this a slot's worker starts on its first trial, and the second
        slot idles through a whole TensorFlow import after the probe (measured:
        6 s quiet, up to 28 s loaded, once per sweep).
        """
        for slot in range(self.jobs):
            self._submit_to(slot, self._warm_up)

    @property
    def jobs(self) -> int:
        return len(self._slots)

    def has_free_slot(self) -> bool:
        return len(self._busy) < self.jobs

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        """Runs ``function(*args)`` on a free worker.

        Raises:
            RuntimeError: When every worker is busy.
        """
        slot = next((i for i in range(self.jobs) if i not in self._busy.values()), None)
        if slot is None:
            raise RuntimeError("every worker is busy")
        future = self._submit_to(slot, function, *args)
        self._busy[future] = slot
        self._start_spare_if_wanted(slot)
        return future

    def result(self, future: Future) -> Any:
        """The task's result; frees its worker.

        Raises:
            WorkerDied: When the worker process ended before returning, with its exit code.
        """
        slot = self._busy.pop(future)
        try:
            result = future.result()
        except (BrokenProcessPool, ShutdownExecutorError) as error:
            self._forget(slot)  # a fresh worker (or the warm spare) takes the slot on the next submit
            raise WorkerDied(_death_message(error)) from None
        if getattr(result, "replace_worker", False):
            # Its GPU context broke: every later trial there would fail too, and a broken
            # context may hang its exit while holding GPU memory the replacement needs.
            self._replace(slot, kill=True)
        else:
            self._after_task(slot, getattr(result, "worker_rss_mb", None))
        return result

    def kill_task(self, future: Future) -> None:
        """SIGKILLs the worker running ``future`` (a hung trial) and frees its slot for a fresh worker."""
        slot = self._busy.pop(future)
        worker = self._slots[slot]
        if worker is not None:
            worker.executor.shutdown(wait=False, kill_workers=True)
        self._forget(slot)

    def kill(self) -> None:
        """SIGKILLs every worker at once, spares too; the next submit starts fresh ones."""
        for slot in range(self.jobs):
            for worker in (self._slots[slot], _warm_spares.pop(self._key(slot), None)):
                if worker is not None:
                    worker.executor.shutdown(wait=False, kill_workers=True)
            self._forget(slot)
        self._busy.clear()

    def _submit_to(self, slot: int, function: Callable[..., Any], *args: Any) -> Future:
        worker = self._worker(slot)
        if not _is_alive(worker.executor):
            # A warm worker or spare that died while idle (killed, OOM during its import),
            # before loky noticed: a task sent to it would fail as if it had killed it.
            worker.executor.shutdown(wait=False, kill_workers=True)
            self._forget(slot)
        try:
            return self._worker(slot).executor.submit(function, *args)
        except (BrokenProcessPool, ShutdownExecutorError):
            # Died idle, and loky noticed first.
            self._forget(slot)
            return self._worker(slot).executor.submit(function, *args)

    def _after_task(self, slot: int, rss_mb: float | None) -> None:
        worker = self._slots[slot]
        if rss_mb is None or worker is None:
            return
        action = worker.memory.after_trial(rss_mb)
        if action == Recycle.PREPARE:
            worker.wants_spare = True
        elif action == Recycle.REPLACE:
            self._replace(slot)

    def _replace(self, slot: int, kill: bool = False) -> None:
        worker = self._slots[slot]
        if worker is not None:
            worker.executor.shutdown(wait=False, kill_workers=kill)  # idle now: it exits, and its memory with it
        self._forget(slot)

    def _start_spare_if_wanted(self, slot: int) -> None:
        """Starts the slot's replacement, which imports TensorFlow while the old worker trains.

        Only once a task is running: a spare started after a sweep's last trial would
        compete with the reports for the cores and hold up the driver's exit.
        """
        worker = self._slots[slot]
        if worker is None or not worker.wants_spare or self._key(slot) in _warm_spares:
            return
        spare = self._new_worker(slot, idle_timeout_s=SPARE_IDLE_TIMEOUT_S)
        spare.executor.submit(self._warm_up)
        _warm_spares[self._key(slot)] = spare

    def _new_worker(self, slot: int, idle_timeout_s: float = WORKER_IDLE_TIMEOUT_S) -> _Worker:
        executor = _new_executor(self._initargs, self._envs[slot], idle_timeout_s)
        return _Worker(executor, WorkerMemory(self._memory_budget_mb))

    def _worker(self, slot: int) -> _Worker:
        """The slot's worker: this sweep's, else a warm one from an earlier sweep, its spare, or a new one."""
        if self._slots[slot] is None:
            key = self._key(slot)
            if key not in _warm_slots:
                _warm_slots[key] = _warm_spares.pop(key, None) or self._new_worker(slot)
            self._slots[slot] = _warm_slots[key]
        return self._slots[slot]

    def _forget(self, slot: int) -> None:
        self._slots[slot] = None
        _warm_slots.pop(self._key(slot), None)

    def _key(self, slot: int) -> tuple[int, tuple, tuple]:
        # The environment too: a warm worker pinned to another GPU (or backend) is no use here.
        return slot, self._initargs, tuple(sorted(self._envs[slot].items()))


# Workers and their spares outlive a sweep, so the next sweep in this process starts on
# warm workers (and keeps counting their memory growth from where the last sweep left it).
_warm_slots: dict[tuple[int, tuple, tuple], _Worker] = {}
_warm_spares: dict[tuple[int, tuple, tuple], _Worker] = {}


def release_warm_workers() -> None:
    """Kills the idle workers and spares kept warm for a next sweep in this process.

    For a process that runs no further sweep, such as the CLI's: letting each idle
    worker wind TensorFlow down at exit takes over a second, killing it does not.
    """
    for worker in [*_warm_slots.values(), *_warm_spares.values()]:
        worker.executor.shutdown(wait=False, kill_workers=True)
    _warm_slots.clear()
    _warm_spares.clear()


def _new_executor(initargs: tuple, env: dict[str, str], idle_timeout_s: float) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=1, timeout=idle_timeout_s, initializer=initialize_worker, initargs=initargs, env=env
    )


def _is_alive(executor: ProcessPoolExecutor) -> bool:
    """Whether the executor's worker process still runs; ``True`` before it has one."""
    for pid in loky_worker_pids(executor):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            return False
    return True


def _death_message(error: BaseException) -> str:
    codes = loky_exit_codes(error)
    detail = f" (exit code {codes})" if codes else ""
    return f"the worker process running this trial died{detail}: killed, crashed in native code, or out of memory"
