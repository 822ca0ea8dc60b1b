"""Recycling workers that outgrow their memory budget: the rule, then a real pool of processes."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

import psutil

from sweeper._pool import WorkerPool
from sweeper._recycle import Recycle, WorkerMemory


def test_growth_counts_from_the_first_trial_and_a_replacement_is_prepared_two_trials_ahead():
    memory = WorkerMemory(budget_mb=10)
    # The first trial's RSS is the reference, however large; then 2, 4, 7 MB (7/3 per trial: 7 + 2*7/3 > 10).
    assert [memory.after_trial(rss) for rss in (700, 702, 704, 707, 711)] == [
        Recycle.KEEP, Recycle.KEEP, Recycle.KEEP, Recycle.PREPARE, Recycle.REPLACE]


def test_a_worker_that_shrinks_or_stays_flat_is_kept():
    memory = WorkerMemory(budget_mb=10)
    assert {memory.after_trial(rss) for rss in (700, 690, 700, 695, 700)} == {Recycle.KEEP}


@dataclass(frozen=True)
class Reported:
    pid: int
    worker_rss_mb: float


def report_rss(rss_mb: float) -> Reported:
    """A task that claims an RSS, as a trial reports its worker's; slow enough for a spare to spawn."""
    time.sleep(1.0)
    return Reported(os.getpid(), rss_mb)


def test_the_replacement_of_a_growing_worker_starts_before_it_retires():
    pool = WorkerPool(jobs=1, memory_budget_mb=10)
    try:
        first = pool.result(pool.submit(report_rss, 100.0))  # the reference
        second = pool.result(pool.submit(report_rss, 104.0))  # two more such trials would cross: prepare
        third = pool.result(pool.submit(report_rss, 111.0))  # crossed: retire
        retired_at = time.time()
        fourth = pool.result(pool.submit(report_rss, 100.0))
        fourth_started_at = psutil.Process(fourth.pid).create_time()  # before kill() reaps it
    finally:
        pool.kill()
    assert first.pid == second.pid == third.pid != fourth.pid
    # The slot's new worker had been running since before the old one retired: no cold start.
    assert fourth_started_at < retired_at


def test_no_replacement_starts_when_no_task_follows_the_decision():
    """A sweep's last trial may cross the line: its spare would only slow the reports and the exit."""
    pool = WorkerPool(jobs=1, memory_budget_mb=10)
    try:
        first = pool.result(pool.submit(report_rss, 100.0))
        pool.result(pool.submit(report_rss, 104.0))  # prepare: but nothing more is submitted
        time.sleep(1.0)  # room for a spare to spawn, if one had been started
        others = [child for child in psutil.Process().children(recursive=True) if child.pid != first.pid]
        spares = [" ".join(child.cmdline()) for child in others if "popen_loky" in " ".join(child.cmdline())]
    finally:
        pool.kill()
    assert spares == [], spares


def test_a_worker_killed_while_idle_is_replaced_on_the_next_submit():
    pool = WorkerPool(jobs=1, memory_budget_mb=10)
    try:
        idle = pool.result(pool.submit(report_rss, 100.0))
        os.kill(idle.pid, signal.SIGKILL)  # between trials: no task of ours was running
        time.sleep(2.0)  # loky's manager thread notices and marks the executor broken
        fresh = pool.result(pool.submit(report_rss, 100.0))
    finally:
        pool.kill()
    assert fresh.pid != idle.pid
