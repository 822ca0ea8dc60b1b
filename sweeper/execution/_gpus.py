"""Which GPUs a sweep uses, and which one each worker slot is pinned to, known without importing a framework.

The driver decides; each slot's worker learns its GPU from the environment its
process starts with (``CUDA_VISIBLE_DEVICES``, read by every framework at import,
built by :mod:`sweeper.execution._gpu_env`), so a recycled or replacement worker,
started with the same environment, keeps it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sweeper._errors import StudyFileError
from sweeper.execution._framework import is_installed
from sweeper.execution._options import positive_option

T = TypeVar("T")


@dataclass(frozen=True)
class GpuPlan:
    """The GPUs a sweep runs on and how many trials share each.

    Args:
        gpus: The GPUs' indices; empty for a CPU sweep.
        trials_per_gpu: Trials that run at once on each GPU.
        hide_gpus: Whether CPU workers are kept off the GPUs (``--gpus none``).
        memory_mb: Each GPU's total memory in MB, as ``(index, MB)`` pairs; empty when unknown.
    """

    gpus: tuple[int, ...]
    trials_per_gpu: int = 1
    hide_gpus: bool = False
    memory_mb: tuple[tuple[int, int], ...] = ()

    @property
    def slots(self) -> int:
        """Trials that run at once on the GPUs."""
        return len(self.gpus) * self.trials_per_gpu


def parse_gpus(value: str | Sequence[int] | None) -> str | tuple[int, ...]:
    """The ``--gpus`` value: ``"auto"``, ``"none"`` or GPU indices.

    Args:
        value: ``"auto"``, ``"none"``, ``"0,1,3"``, a sequence of indices, or ``None`` for ``"auto"``.

    Returns:
        ``"auto"``, ``"none"`` or the indices, in the order given.

    Raises:
        StudyFileError: Naming the option and its forms.
    """
    if value is None:
        return "auto"
    if isinstance(value, str) and value.strip().lower() in ("auto", "none"):
        return value.strip().lower()
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        indices = tuple(_index(part) for part in parts)
    except ValueError:
        indices = ()
    if not indices or len(set(indices)) != len(indices):
        raise StudyFileError(
            f"--gpus={value!r} is not 'auto', 'none' or distinct GPU indices.", fix="e.g. --gpus 0,1 or --gpus auto."
        )
    return indices


def _index(part: object) -> int:
    if isinstance(part, bool):
        raise ValueError(part)
    index = int(str(part).strip())
    if index < 0:
        raise ValueError(part)
    return index


def _ask_nvml(question: Callable[[Any], T], otherwise: T) -> T:
    """``question(pynvml)`` between NVML's init and shutdown; ``otherwise`` without nvidia-ml-py, driver or answer."""
    if not is_installed("pynvml"):
        return otherwise
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return otherwise  # no driver: no GPU this process can use
    try:
        return question(pynvml)
    except pynvml.NVMLError:
        return otherwise
    finally:
        pynvml.nvmlShutdown()


def discover_gpus() -> list[int]:
    """The indices of this machine's NVIDIA GPUs, through nvidia-ml-py; empty without it or without GPUs."""
    return _ask_nvml(lambda nvml: list(range(nvml.nvmlDeviceGetCount())), [])


def discover_memory_mb(gpus: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Each GPU's total memory in MB, through nvidia-ml-py; empty when unknown (TensorFlow then grows on demand)."""

    def memory(nvml: Any) -> tuple[tuple[int, int], ...]:
        handles = [nvml.nvmlDeviceGetHandleByIndex(index) for index in gpus]
        return tuple(
            (index, nvml.nvmlDeviceGetMemoryInfo(handle).total // 2**20)
            for index, handle in zip(gpus, handles, strict=True)
        )

    return _ask_nvml(memory, ()) if gpus else ()


def plan_gpus(value: str | Sequence[int] | None, trials_per_gpu: int, found: Sequence[int]) -> GpuPlan:
    """The GPUs a sweep runs on, checked against the GPUs found.

    Args:
        value: The ``--gpus`` value (see :func:`parse_gpus`).
        trials_per_gpu: Trials that share each GPU, 1 or more.
        found: This machine's GPUs (:func:`discover_gpus`).

    Returns:
        The plan; ``auto`` on a machine without GPUs is a CPU plan.

    Raises:
        StudyFileError: For a named GPU this machine does not have.
    """
    parsed = parse_gpus(value)
    if parsed == "none":
        return GpuPlan((), trials_per_gpu, hide_gpus=True)
    if parsed == "auto":
        return GpuPlan(tuple(found), trials_per_gpu)
    missing = [index for index in parsed if index not in found]
    if missing:
        have = ", ".join(map(str, found)) if found else "none"
        raise StudyFileError(
            f"--gpus names GPU {', '.join(map(str, missing))}, which this machine does not have (GPUs found: {have}).",
            fix="name GPUs from that list, or use --gpus auto.",
        )
    return GpuPlan(tuple(parsed), trials_per_gpu)


def jobs_for(plan: GpuPlan, jobs: int | None) -> int | None:
    """``--jobs`` on GPUs: GPUs × K by default, at most that.

    Args:
        plan: The GPU plan.
        jobs: What the user asked for; ``None`` for the default.

    Returns:
        The jobs to run; ``jobs`` itself on CPU.

    Raises:
        StudyFileError: When more jobs than GPU slots are asked for.
    """
    if not plan.gpus:
        return jobs
    if jobs is None:
        return plan.slots
    if jobs > plan.slots:
        raise StudyFileError(
            f"--jobs {jobs} is more than the {len(plan.gpus)} GPU(s) × --trials-per-gpu {plan.trials_per_gpu}"
            f" = {plan.slots} trials that fit at once.",
            fix=f"use --jobs {plan.slots} or fewer, or raise --trials-per-gpu.",
        )
    return jobs


def assign_slots(gpus: Sequence[int], trials_per_gpu: int, jobs: int) -> list[int | None]:
    """The GPU of each of ``jobs`` worker slots, round-robin so that fewer jobs still spread over the GPUs.

    Args:
        gpus: The GPUs; empty for CPU.
        trials_per_gpu: Trials that share each GPU.
        jobs: Worker slots, at most ``len(gpus) * trials_per_gpu``.

    Returns:
        Each slot's GPU index, or ``None`` on CPU.
    """
    if not gpus:
        return [None] * jobs
    return [gpus[slot % len(gpus)] for slot in range(min(jobs, len(gpus) * trials_per_gpu))]


def gpu_options(
    gpus: str | Sequence[int] | None, trials_per_gpu: int, jobs: int | None, *, local: bool
) -> tuple[GpuPlan, int]:
    """``--gpus``, ``--trials-per-gpu`` and ``--jobs`` checked together, before any worker starts.

    Args:
        gpus: The ``--gpus`` value (see :func:`parse_gpus`).
        trials_per_gpu: Trials that share each GPU.
        jobs: Worker processes; ``None`` for 1 on CPU, GPUs × K on GPUs.
        local: Whether the workers run here (loky): a Dask cluster's workers bring their own GPUs.

    Returns:
        The GPU plan and the jobs to run.

    Raises:
        StudyFileError: For a bad value, a GPU this machine lacks, or more jobs than GPU slots.
    """
    trials_per_gpu = positive_option("--trials-per-gpu", trials_per_gpu)
    if jobs is not None:
        positive_option("--jobs", jobs)
    if not local:
        parse_gpus(gpus)
        return GpuPlan((), trials_per_gpu), jobs or 1
    plan = plan_gpus(gpus, trials_per_gpu, discover_gpus() if parse_gpus(gpus) != "none" else [])
    if plan.gpus and trials_per_gpu > 1:
        plan = dataclasses.replace(plan, memory_mb=discover_memory_mb(plan.gpus))
    return plan, jobs_for(plan, jobs) or 1
