"""Where a trial ran, as the worker's framework sees it, and a GPU that ran out of memory or broke told in one line.

Both are worker-side and read the framework only through modules already imported:
nothing here imports a framework that the trial did not.
"""

from __future__ import annotations

import functools
import os
import sys

# Set by the driver in a GPU slot's environment (sweeper.execution._gpu_env).
GPU_ENV = "SWEEPER_GPU"
TRIALS_PER_GPU_ENV = "SWEEPER_TRIALS_PER_GPU"
GPU_MEMORY_MB_ENV = "SWEEPER_GPU_MEMORY_MB"
# How each framework says a device ran out of memory: exception type names and message marks.
_OOM_TYPES = ("ResourceExhaustedError", "OutOfMemoryError", "XlaRuntimeError", "JaxRuntimeError")
_OOM_MARKS = ("RESOURCE_EXHAUSTED", "out of memory", "OOM when allocating")
# CUDA's "sticky" errors: after one, every later call in the process fails the same way,
# so the worker must be replaced (CUDA's driver names and runtime messages, as TF, JAX and
# PyTorch quote them). An out-of-memory error is not sticky: the next trial can run.
_BROKEN_MARKS = (
    "CUDA_ERROR_ILLEGAL_ADDRESS",
    "an illegal memory access was encountered",
    "CUDA_ERROR_LAUNCH_FAILED",
    "unspecified launch failure",
    "CUDA_ERROR_ASSERT",
    "device-side assert triggered",
    "CUDA_ERROR_ILLEGAL_INSTRUCTION",
    "an illegal instruction was encountered",
    "CUDA_ERROR_MISALIGNED_ADDRESS",
    "misaligned address",
    "CUDA_ERROR_HARDWARE_STACK_ERROR",
    "CUDA_ERROR_INVALID_PC",
    "CUDA_ERROR_LAUNCH_TIMEOUT",
    "the launch timed out and was terminated",
    "CUDA_ERROR_ECC_UNCORRECTABLE",
    "uncorrectable ECC error",
    "GPU sync failed",
)


@functools.cache
def device_attrs() -> dict[str, str]:
    """The trial's ``device`` (``gpu:<index>`` or ``cpu``) and ``backend`` (Keras's), once per worker."""
    import keras

    backend = keras.backend.backend()
    on_gpu = _framework_sees_gpu(backend)
    index = os.environ.get(GPU_ENV) or os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0] or "0"
    return {"device": f"gpu:{index}" if on_gpu else "cpu", "backend": backend}


def _framework_sees_gpu(backend: str) -> bool:
    if backend == "jax" and "jax" in sys.modules:
        return any(device.platform == "gpu" for device in sys.modules["jax"].devices())
    if backend == "torch" and "torch" in sys.modules:
        return bool(sys.modules["torch"].cuda.is_available())
    if backend == "tensorflow" and "tensorflow" in sys.modules:
        return bool(sys.modules["tensorflow"].config.list_physical_devices("GPU"))
    return False


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a framework's device running out of memory (TF, JAX or PyTorch)."""
    if type(error).__name__ not in _OOM_TYPES and not isinstance(error, MemoryError):
        return False
    text = str(error)
    return type(error).__name__ in ("ResourceExhaustedError", "OutOfMemoryError") or any(
        mark in text for mark in _OOM_MARKS
    )


def out_of_memory_message(error: BaseException) -> str | None:
    """One line for a trial whose GPU ran out of memory; ``None`` for any other error or on CPU.

    Args:
        error: What the fit raised.

    Returns:
        The line naming the GPU, how many trials share it and the fix.
    """
    if not is_out_of_memory(error) or device_attrs()["device"] == "cpu":
        return None
    sharing = os.environ.get(TRIALS_PER_GPU_ENV, "1")
    return (
        f"{device_attrs()['device']} ran out of memory ({sharing} trial(s) share it, "
        f"{type(error).__name__}): lower --trials-per-gpu or the batch size."
    )


def is_broken_device(error: BaseException) -> bool:
    """Whether ``error`` is a CUDA error after which this process can no longer use its GPU."""
    text = str(error)
    return any(mark in text for mark in _BROKEN_MARKS)


def broken_device_message(error: BaseException) -> str | None:
    """One line for a trial whose GPU context broke; ``None`` for any other error.

    Args:
        error: What the fit raised.

    Returns:
        The line naming the device and the CUDA error, and saying the worker is replaced.
    """
    if not is_broken_device(error):
        return None
    mark = next(mark for mark in _BROKEN_MARKS if mark in str(error))
    device = device_attrs()["device"]
    where = f" of {device}" if device != "cpu" else ""
    return (
        f"the CUDA context{where} broke ({type(error).__name__}: {mark}): this trial failed and its worker"
        " process is replaced. A kernel fault lies in the model's ops or the GPU, not in its memory share."
    )
