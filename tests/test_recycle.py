"""Recycling workers that outgrow their memory budget: the rule, then a real pool of processes."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

import psutil

from sweeper.backends.local._pool import WorkerPool
from sweeper.backends.local._recycle import Recycle, WorkerMemory


def test_growth_counts_from_the_first_trial_and_a_replacement_is_prepared_two_trials_ahead():
    memory = WorkerMemory(budget_mb=10)
    # The first trial's RSS is the reference, however large; then 2, 4, 7 MB (7/3 per trial: 7 + 2*7/3 > 10).
    assert [memory.after_trial(rss) for rss in (700, 702, 704, 707, 711)] == [
        Recycle.KEEP,
        Recycle.KEEP,
        Recycle.KEEP,
        Recycle.PREPARE,
        Recycle.REPLACE,
    ]


def test_a_worker_that_shrinks_or_stays_flat_is_kept():
    memory = WorkerMemory(budget_mb=10)
    assert {memory.after_trial(rss) for rss in (700, 690, 700, 695, 700)} == {Recycle.KEEP}


@dataclass(frozen=True)
class Reported:
    pid: int
    worker_rss_mb: float


def report_rss(rss_mb: float) -> Reported:
    """A task that claims an RSS, as a trial reports its worker's."""
    return Reported(os.getpid(), rss_mb)


def loky_workers() -> set[int]:
    """Pids of this process's live loky worker processes (a slot's worker and any spare)."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "popen_loky" in " ".join(child.cmdline()):
                pids.add(child.pid)
        except psutil.Error:
            continue  # ended while we looked
    return pids


def is_dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_replacement_of_a_growing_worker_starts_before_it_retires():
    before = loky_workers()  # warm workers other tests' sweeps keep in this process
    pool = WorkerPool(jobs=1, memory_budget_mb=10)
    try:
        first = pool.result(pool.submit(report_rss, 100.0))  # the reference
        second = pool.result(pool.submit(report_rss, 104.0))  # two more such trials would cross: prepare
        third = pool.submit(report_rss, 111.0)  # the slot's next task: its spare starts beside it
        # loky starts an executor's process inside submit(), so the spare is up already.
        spares = loky_workers() - before - {first.pid}
        pool.result(third)  # crossed: the old worker retires
        fourth = pool.result(pool.submit(report_rss, 100.0))
    finally:
        pool.kill()
    assert first.pid == second.pid
    # The slot's new worker is the spare that was running before the old one retired: no cold start.
    assert spares == {fourth.pid}, (spares, fourth.pid)


def test_no_replacement_starts_when_no_task_follows_the_decision():
    """A sweep's last trial may cross the line: its spare would only slow the reports and the exit."""
    before = loky_workers()
    pool = WorkerPool(jobs=1, memory_budget_mb=10)
    try:
        first = pool.result(pool.submit(report_rss, 100.0))
        pool.result(pool.submit(report_rss, 104.0))  # prepare: but nothing more is submitted
        # A spare would have started inside submit() or result() (see the test above): none is up.
        spares = loky_workers() - before - {first.pid}
    finally:
        pool.kill()
    assert spares == set(), spares


def test_a_worker_killed_while_idle_is_replaced_on_the_next_submit():
    pool = WorkerPool(jobs=1, memory_budget_mb=10)
    try:
        idle = pool.result(pool.submit(report_rss, 100.0))
        os.kill(idle.pid, signal.SIGKILL)  # between trials: no task of ours was running
        wait_until(lambda: is_dead(idle.pid))  # SIGKILL lands asynchronously
        # Submitted at once, before loky's own manager thread may have noticed the death.
        fresh = pool.result(pool.submit(report_rss, 100.0))
    finally:
        pool.kill()
    assert fresh.pid != idle.pid


@dataclass(frozen=True)
class SawGpu:
    pid: int
    gpu: str | None
    worker_rss_mb: float


def report_gpu(rss_mb: float) -> SawGpu:
    """A task that reports the GPU its worker process was pinned to, and an RSS."""
    return SawGpu(os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES"), rss_mb)


def test_a_recycled_or_replaced_worker_keeps_its_slots_gpu():
    envs = [{"KERAS_BACKEND": "numpy", "CUDA_VISIBLE_DEVICES": gpu} for gpu in ("3", "5")]
    pool = WorkerPool(jobs=2, memory_budget_mb=10, slot_envs=envs)
    try:
        first = pool.result(pool.submit(report_gpu, 100.0))  # slot 0
        os.kill(first.pid, signal.SIGKILL)  # killed idle: replaced on the next submit
        wait_until(lambda: is_dead(first.pid))
        replaced = pool.result(pool.submit(report_gpu, 100.0))
        pool.result(pool.submit(report_gpu, 104.0))
        pool.result(pool.submit(report_gpu, 111.0))  # crossed the budget: recycled
        recycled = pool.result(pool.submit(report_gpu, 100.0))
        busy = pool.submit(report_gpu, 100.0)
        other = pool.result(pool.submit(report_gpu, 100.0))  # slot 1, while slot 0 is busy
        pool.result(busy)
    finally:
        pool.kill()
    assert len({first.pid, replaced.pid, recycled.pid}) == 3
    assert (first.gpu, replaced.gpu, recycled.gpu, other.gpu) == ("3", "3", "3", "5")
