"""A worker process's framework: imported once, with its thread budget and its share of a GPU.

Each Keras backend budgets threads and caps GPU memory in its own way; the knobs
read at import (JAX's) are set just before it, the others just after.
"""

from __future__ import annotations

import os

from sweeper.execution._cpus import confine_to_slot_cpus
from sweeper.execution._framework import keras_backend
from sweeper.execution._gpu_env import GPU_MEMORY_SHARE
from sweeper.trial._device import GPU_MEMORY_MB_ENV, TRIALS_PER_GPU_ENV


def import_framework(intra_op_threads: int, inter_op_threads: int) -> str:
    """Imports the Keras backend's framework in this worker, budgets its threads and caps its GPU memory.

    Args:
        intra_op_threads: Threads the framework uses inside one op.
        inter_op_threads: Ops the framework runs at once.

    Returns:
        The Keras backend.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    backend = keras_backend()
    if backend == "jax":
        _import_jax()
    elif backend == "torch":
        _import_torch(intra_op_threads, inter_op_threads)
    elif backend == "tensorflow":
        _import_tensorflow(intra_op_threads, inter_op_threads)
    return backend


def gpu_memory_limit_mb() -> int | None:
    """This worker's share of its GPU in MB, as the driver set it; ``None`` when unknown."""
    try:
        return int(os.environ[GPU_MEMORY_MB_ENV])
    except (KeyError, ValueError):
        return None


def trials_per_gpu() -> int:
    """Trials sharing this worker's GPU, as the driver set it; 1 when alone or on CPU."""
    try:
        return max(1, int(os.environ.get(TRIALS_PER_GPU_ENV, "1")))
    except ValueError:
        return 1


def _import_tensorflow(intra_op_threads: int, inter_op_threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
    if trials_per_gpu() == 1:
        return
    # TensorFlow maps nearly all of a GPU at its first op. A logical device of this
    # worker's share caps it; growing on demand is the fallback when the share is
    # unknown (a Dask worker's GPU). Either is set before any op, hence right here.
    limit_mb = gpu_memory_limit_mb()
    for gpu in tf.config.list_physical_devices("GPU"):
        if limit_mb:
            tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(limit_mb)])
        else:
            tf.config.experimental.set_memory_growth(gpu, True)


def _import_jax() -> None:
    # XLA sizes its CPU thread pools to the process's cores when JAX starts, so the
    # slot's cores are set before the import (sweeper.execution._cpus says why).
    confine_to_slot_cpus()
    import jax  # noqa: F401  (the import is the point: once per worker, before the first trial)


def _import_torch(intra_op_threads: int, inter_op_threads: int) -> None:
    import torch

    torch.set_num_threads(intra_op_threads)
    try:
        torch.set_num_interop_threads(inter_op_threads)
    except RuntimeError:
        pass  # set once per process: an earlier import in this process already did
    if trials_per_gpu() > 1 and torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(GPU_MEMORY_SHARE / trials_per_gpu())
