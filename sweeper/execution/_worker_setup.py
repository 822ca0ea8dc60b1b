"""A worker process's framework: imported once, with its thread budget and its share of a GPU.

Each Keras backend budgets threads and caps GPU memory in its own way; the knobs
read at import (JAX's) are set just before it, the others just after.
"""

from __future__ import annotations

import os

from sweeper.execution._framework import keras_backend
from sweeper.execution._gpus import GPU_MEMORY_SHARE, TRIALS_PER_GPU_ENV

# XLA's CPU client sizes its thread pool to the cores at start; with one thread per
# worker it must not run Eigen's own pool either (JAX's documented way to one thread).
_XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


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
        _import_jax(intra_op_threads)
    elif backend == "torch":
        _import_torch(intra_op_threads, inter_op_threads)
    elif backend == "tensorflow":
        _import_tensorflow(intra_op_threads, inter_op_threads)
    return backend


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
    if trials_per_gpu() > 1:
        # TensorFlow maps nearly all of a GPU at its first op; growing on demand leaves
        # room for the GPU's other trials (set before any op, hence right after import).
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)


def _import_jax(intra_op_threads: int) -> None:
    # Read when JAX starts its CPU client, so before the import; the user's own flags win.
    if intra_op_threads == 1 and "XLA_FLAGS" not in os.environ:
        os.environ["XLA_FLAGS"] = _XLA_ONE_THREAD
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
