"""Which cores each worker slot may run on, for the frameworks whose threads no setting caps.

TensorFlow and PyTorch take a thread count. XLA's CPU client (JAX) sizes its thread
pools to the cores the process may run on, and ignores its old thread flags
(measured with JAX 0.10.2: ``--xla_cpu_multi_thread_eigen=false`` still ran a matmul
loop on 1.95 cores of 2; a one-core affinity ran it on 1.0). So a JAX worker is
confined to its slot's share of the cores, set before JAX's import.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence

CPUS_ENV = "SWEEPER_CPUS"


def available_cpus() -> list[int]:
    """The cores this process may run on (its affinity, which ``taskset`` or a cgroup may narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@functools.cache
def original_cpus() -> tuple[int, ...]:
    """The cores this process could run on when sweeper first asked, before any confinement.

    A long-lived process (a Dask worker) is confined anew for each sweep; its share is
    taken from these, so a share never shrinks to a share of an earlier share.
    """
    return tuple(available_cpus())


def cpu_sets(cpus: Sequence[int], jobs: int) -> list[tuple[int, ...]]:
    """Each of ``jobs`` slots' cores: consecutive, disjoint shares of ``cpus``.

    Args:
        cpus: The cores the sweep may use.
        jobs: Worker slots.

    Returns:
        Each slot's cores: every core goes to one slot, the first slots taking one more
        when they do not divide evenly; with more slots than cores, one core each,
        round-robin.
    """
    if not cpus or jobs < 1:
        return [tuple(cpus)] * max(jobs, 0)
    if jobs >= len(cpus):
        return [(cpus[slot % len(cpus)],) for slot in range(jobs)]
    per_slot, extra = divmod(len(cpus), jobs)
    shares, start = [], 0
    for slot in range(jobs):
        size = per_slot + (slot < extra)
        shares.append(tuple(cpus[start : start + size]))
        start += size
    return shares


def cpus_env(cpus: Sequence[int], all_cpus: Sequence[int]) -> dict[str, str]:
    """A slot's variable naming its cores; none when it may use them all.

    Args:
        cpus: The slot's cores.
        all_cpus: Every core the sweep may use.

    Returns:
        ``{"SWEEPER_CPUS": "0,1"}`` or nothing.
    """
    if set(cpus) >= set(all_cpus):
        return {}
    return {CPUS_ENV: ",".join(map(str, cpus))}


def confine_to_slot_cpus() -> tuple[int, ...] | None:
    """Confines this process to the cores its slot was given, if any and if the OS can.

    Returns:
        The cores now allowed, or ``None`` when nothing was changed.
    """
    named = os.environ.get(CPUS_ENV)
    if not named:
        return None
    # Every thread, not only this one: loky's own threads are already running.
    return confine_process([int(cpu) for cpu in named.split(",")])


def confine_process(cpus: Sequence[int]) -> tuple[int, ...] | None:
    """Confines every thread of this process, those already running too, to ``cpus``.

    For a process whose framework may already run (a Dask worker, whose share can change
    when its host's workers do): threads started later inherit their starter's cores.

    Args:
        cpus: The cores to allow.

    Returns:
        The cores now allowed, or ``None`` when the OS cannot confine threads.
    """
    allowed = set(cpus) & set(original_cpus())
    if not allowed or not hasattr(os, "sched_setaffinity") or not os.path.isdir("/proc/self/task"):
        return None  # cores not this process's to use, or an OS that cannot confine: keep the ones it has
    for thread in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(thread), allowed)
        except (ProcessLookupError, PermissionError):
            pass  # a thread that ended meanwhile
    return tuple(sorted(allowed))


def shares_by_host(
    cpus_by_worker: Mapping[str, Sequence[int]], host_of: Callable[[str], str]
) -> dict[str, tuple[int, ...]]:
    """Each worker's cores when several workers share a host (a Dask cluster's): the host's cores split among them.

    Args:
        cpus_by_worker: Each worker's address and the cores it may run on.
        host_of: The host of an address.

    Returns:
        Each worker's share, in address order within its host.
    """
    hosts: dict[str, list[str]] = {}
    for address in sorted(cpus_by_worker):
        hosts.setdefault(host_of(address), []).append(address)
    shares: dict[str, tuple[int, ...]] = {}
    for addresses in hosts.values():
        host_cpus = sorted(set().union(*(cpus_by_worker[address] for address in addresses)))
        shares.update(zip(addresses, cpu_sets(host_cpus, len(addresses)), strict=True))
    return shares
