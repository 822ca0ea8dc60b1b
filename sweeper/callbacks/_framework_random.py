"""The framework's own global random state, which a trial backup must hold on PyTorch.

Keras draws most random numbers from its seed generators, model variables that the
backup saves with the model. On PyTorch two things draw from PyTorch's global
generators instead, which ``keras.utils.set_random_seed`` seeds: an unseeded
``Dropout`` (Keras's fast path calls ``torch.nn.functional.dropout``) and the shuffling
of array data (a ``torch.utils.data.RandomSampler`` draws each epoch's order). Without
their state a resumed trial would train on other masks and batches than the
uninterrupted one. TensorFlow and JAX need nothing beyond Keras's seed generators.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

# Keys in the backup's arrays.npz, beside the seed generators' and the callbacks' arrays.
_CPU = "random.torch.cpu"
_CUDA = "random.torch.cuda."


def framework_random_state() -> dict[str, np.ndarray]:
    """The worker's framework's global random state, as arrays for the backup.

    Returns:
        PyTorch's CPU generator state and, once CUDA is in use, each GPU's; empty on
        any other backend.
    """
    torch = _torch()
    if torch is None:
        return {}
    states = {_CPU: torch.get_rng_state().numpy()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states.update({f"{_CUDA}{i}": state.numpy() for i, state in enumerate(torch.cuda.get_rng_state_all())})
    return states


def restore_framework_random_state(arrays: Mapping[str, np.ndarray]) -> None:
    """Sets the framework's global random state back to what :func:`framework_random_state` saved.

    A backup without it (another backend's, or an older sweeper's) changes nothing.

    Args:
        arrays: The backup's arrays.
    """
    torch = _torch()
    if torch is None or _CPU not in arrays:
        return
    torch.set_rng_state(torch.from_numpy(np.array(arrays[_CPU], dtype=np.uint8)))
    for key, state in arrays.items():
        # A retry may run where fewer GPUs are visible: the GPUs it cannot see draw nothing.
        if key.startswith(_CUDA) and int(key[len(_CUDA) :]) < torch.cuda.device_count():
            torch.cuda.set_rng_state(torch.from_numpy(np.array(state, dtype=np.uint8)), int(key[len(_CUDA) :]))


def _torch() -> Any | None:
    """PyTorch, when it is Keras's backend (and so already imported); ``None`` otherwise."""
    if keras.backend.backend() != "torch":
        return None
    import torch

    return torch
