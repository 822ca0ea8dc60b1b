"""Where a trial ran, as the worker's framework sees it, and a GPU running out of memory told in one line.

Both are worker-side and read the framework only through modules already imported:
nothing here imports a framework that the trial did not.
"""

from __future__ import annotations

import functools
import os
import sys

# Set by the driver in a GPU slot's environment (sweeper.execution._gpus).
GPU_ENV = "SWEEPER_GPU"
TRIALS_PER_GPU_ENV = "SWEEPER_TRIALS_PER_GPU"
# How each framework says a device ran out of memory: exception type names and message marks.
_OOM_TYPES = ("ResourceExhaustedError", "OutOfMemoryError", "XlaRuntimeError", "JaxRuntimeError")
_OOM_MARKS = ("RESOURCE_EXHAUSTED", "out of memory", "OOM when allocating")


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
