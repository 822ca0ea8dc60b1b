"""Each worker slot's cores, for JAX, whose CPU threads follow the cores a process may run on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sweeper.backends.local._backend import worker_envs
from sweeper.execution._cpus import cpu_sets, cpus_env, shares_by_host
from sweeper.execution._gpus import GpuPlan


@pytest.mark.parametrize(
    ("cpus", "jobs", "expected"),
    [
        ([0, 1], 2, [(0,), (1,)]),
        ([0, 1, 2, 3, 4, 5, 6, 7], 2, [(0, 1, 2, 3), (4, 5, 6, 7)]),
        ([0, 1, 2, 3, 4, 5, 6, 7], 3, [(0, 1, 2), (3, 4, 5), (6, 7)]),  # uneven: no core left idle
        ([0, 1], 4, [(0,), (1,), (0,), (1,)]),  # more jobs than cores: one core each, round-robin
        ([2, 5, 6], 1, [(2, 5, 6)]),  # an affinity narrowed by taskset is respected
    ],
)
def test_slots_get_consecutive_disjoint_shares_of_the_cores(cpus, jobs, expected):
    assert cpu_sets(cpus, jobs) == expected


def test_a_slot_with_every_core_gets_no_variable():
    assert cpus_env((0, 1), [0, 1]) == {}
    assert cpus_env((1,), [0, 1]) == {"SWEEPER_CPUS": "1"}


def test_dask_workers_split_their_hosts_cores_in_address_order():
    workers = {"tcp://b:2": [0, 1, 2, 3], "tcp://a:9": [0, 1, 2, 3], "tcp://a:1": [0, 1, 2, 3], "tcp://c:5": [0, 1]}
    shares = shares_by_host(workers, lambda address: address.rsplit(":", 1)[0])
    assert shares == {"tcp://a:1": (0, 1), "tcp://a:9": (2, 3), "tcp://b:2": (0, 1, 2, 3), "tcp://c:5": (0, 1)}
    # Workers started under their own taskset: the host's cores are what they have between them.
    assert shares_by_host({"tcp://a:1": [0, 1], "tcp://a:9": [2, 3]}, lambda a: "a") == {
        "tcp://a:1": (0, 1),
        "tcp://a:9": (2, 3),
    }


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_a_process_is_confined_with_the_threads_it_already_runs():
    """A Dask worker's framework may already run: its threads are confined too, and the ones they start."""
    code = (
        "import os, threading\n"
        "from sweeper.execution._cpus import confine_process\n"
        "ready, go, seen = threading.Event(), threading.Event(), {}\n"
        "def early():\n"
        "    ready.set(); go.wait(); seen['early'] = os.sched_getaffinity(0)\n"
        "    later = threading.Thread(target=lambda: seen.update(later=os.sched_getaffinity(0)))\n"
        "    later.start(); later.join()\n"
        "thread = threading.Thread(target=early); thread.start(); ready.wait()\n"
        "print(confine_process([1])); go.set(); thread.join()\n"
        "print(sorted(seen['early']), sorted(seen['later']), sorted(os.sched_getaffinity(0)))\n"
        "print(confine_process([0, 1]))\n"  # the next sweep's share may be wider: taken from the original cores
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:3] == ["(1,)", "[1] [1] [1]", "(0, 1)"]


def test_only_jax_workers_are_given_cores(monkeypatch):
    monkeypatch.setattr("sweeper.backends.local._backend.available_cpus", lambda: [0, 1, 2, 3])
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert [env.get("SWEEPER_CPUS") for env in worker_envs(GpuPlan(()), 2)] == ["0,1", "2,3"]
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert all("SWEEPER_CPUS" not in env for env in worker_envs(GpuPlan(()), 2))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_a_jax_worker_confined_to_one_core_runs_on_one(tmp_path):
    """The reason the cores are named: XLA's thread pools follow them (and not its old thread flags)."""
    pytest.importorskip("jax")
    code = (
        "import os, time\n"
        "from sweeper.execution._worker_setup import import_framework\n"
        "import_framework(1, 1)\n"
        "import jax.numpy as jnp\n"
        "x = jnp.ones((1200, 1200)); (x @ x).block_until_ready()\n"
        "c0, t0 = time.process_time(), time.perf_counter()\n"
        "while time.perf_counter() - t0 < 1.5: (x @ x).block_until_ready()\n"
        "print(sorted(os.sched_getaffinity(0)), (time.process_time() - c0) / (time.perf_counter() - t0))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "SWEEPER_CPUS": "1"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    cores, load = run.stdout.split("] ")
    assert cores == "[1" and float(load) < 1.2  # one core busy, not two


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
@pytest.mark.parametrize(("backend", "expected"), [("jax", "[1]"), ("tensorflow", "all")])
def test_a_dask_worker_on_jax_takes_its_share_of_the_hosts_cores(backend, expected):
    pytest.importorskip(backend)
    code = (
        "import os\n"
        "from sweeper.execution._tasks import prepare_dask_worker\n"
        "everything = os.sched_getaffinity(0)\n"
        "prepare_dask_worker(1, 1, (1,))\n"
        "print('all' if os.sched_getaffinity(0) == everything else sorted(os.sched_getaffinity(0)))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": backend}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == expected
