"""The environment that pins a worker process to its GPU and caps it to its share, set before any framework loads.

Every framework reads ``CUDA_VISIBLE_DEVICES`` at import, and JAX its memory fraction;
TensorFlow and PyTorch read their caps from here after import
(:mod:`sweeper.execution._worker_setup`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sweeper._errors import StudyFileError
from sweeper.execution._gpus import GpuPlan, discover_gpus, discover_memory_mb, parse_gpus, plan_gpus
from sweeper.trial._device import GPU_ENV, GPU_MEMORY_MB_ENV, TRIALS_PER_GPU_ENV

# Of a GPU's memory, the share all its trials may take together: the rest is the
# CUDA contexts' own (a few hundred MB each) and the framework's fragmentation.
GPU_MEMORY_SHARE = 0.9


def slot_env(gpu: int | None, plan: GpuPlan) -> dict[str, str]:
    """The environment a slot's worker process starts with.

    Args:
        gpu: The slot's GPU, or ``None`` for CPU.
        plan: The sweep's GPU plan.

    Returns:
        The variables to set: none for a CPU slot (today's run), unless GPUs are hidden.
    """
    if gpu is None:
        return {"CUDA_VISIBLE_DEVICES": ""} if plan.hide_gpus else {}
    env = {
        # CUDA numbers GPUs fastest first unless told otherwise; nvidia-ml-py and nvidia-smi,
        # which named them, number them by PCI bus.
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": str(gpu),
        GPU_ENV: str(gpu),
        TRIALS_PER_GPU_ENV: str(plan.trials_per_gpu),
    }
    total_mb = dict(plan.memory_mb).get(gpu)
    if plan.trials_per_gpu > 1 and total_mb:
        env[GPU_MEMORY_MB_ENV] = str(memory_share_mb(total_mb, plan.trials_per_gpu))
    return {**env, **memory_share_env(plan.trials_per_gpu)}


def memory_share_mb(total_mb: int, trials_per_gpu: int) -> int:
    """One trial's share of a GPU's memory, in MB, for TensorFlow's logical device limit.

    Args:
        total_mb: The GPU's memory.
        trials_per_gpu: Trials that share it.

    Returns:
        The MB each trial may take.
    """
    return int(total_mb * GPU_MEMORY_SHARE / trials_per_gpu)


def memory_share_env(trials_per_gpu: int) -> dict[str, str]:
    """The variables that cap JAX's GPU memory to a trial's share, read at JAX's import.

    JAX preallocates 75% of the GPU by default, so a second process on it fails; with
    K trials per GPU each preallocates its share instead (preallocation stays on: it is
    JAX's fast path). TensorFlow and PyTorch are capped after their import
    (:mod:`sweeper.execution._worker_setup`).

    Args:
        trials_per_gpu: Trials that share the GPU.

    Returns:
        The variables; none for one trial per GPU.
    """
    if trials_per_gpu <= 1:
        return {}
    return {"XLA_PYTHON_CLIENT_MEM_FRACTION": f"{GPU_MEMORY_SHARE / trials_per_gpu:.3f}"}


def process_env(gpus: str | Sequence[int] | None, trials_per_gpu: int) -> dict[str, str]:
    """The environment of a process that runs trials itself (``sweeper worker``), one at a time.

    Args:
        gpus: ``"auto"`` keeps the GPUs this process was given (by the user or dask-cuda),
            ``"none"`` hides them, an index pins it to that GPU.
        trials_per_gpu: Processes that share its GPU; each is capped to its share.

    Returns:
        The variables to set before the framework's import.

    Raises:
        StudyFileError: For more than one GPU, or one this machine lacks.
    """
    parsed = parse_gpus(gpus)
    if parsed == "none":
        return {"CUDA_VISIBLE_DEVICES": ""}
    if parsed == "auto":
        shared = {TRIALS_PER_GPU_ENV: str(trials_per_gpu)} if trials_per_gpu > 1 else {}
        return {**shared, **memory_share_env(trials_per_gpu)}
    if len(parsed) > 1:
        raise StudyFileError(
            f"--gpus={gpus!r} names {len(parsed)} GPUs, but a worker runs one trial at a time.",
            fix="start one `sweeper worker --gpus N` per GPU (and --trials-per-gpu K of them per GPU).",
        )
    plan = plan_gpus(parsed, trials_per_gpu, discover_gpus())
    return slot_env(parsed[0], GpuPlan(plan.gpus, trials_per_gpu, memory_mb=discover_memory_mb(plan.gpus)))
