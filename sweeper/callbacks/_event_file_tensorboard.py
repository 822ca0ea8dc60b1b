"""Keras's TensorBoard callback without TensorFlow: the same event files, written by the ``tensorboard`` package."""

from __future__ import annotations

import warnings
from typing import Any

import keras

from sweeper.callbacks._event_summary import EventSummary, tensorflow_writes_summaries

__all__ = ["EventFileTensorBoard", "tensorflow_writes_summaries", "without_tensorflow_only"]

# The parameters whose logs only TensorFlow can write, and the value that writes none.
NEEDS_TENSORFLOW = {
    "histogram_freq": 0,
    "write_graph": False,
    "write_images": False,
    "profile_batch": 0,
    "embeddings_freq": 0,
}


class EventFileTensorBoard(keras.callbacks.TensorBoard):
    """``keras.callbacks.TensorBoard`` whose scalars go through :class:`EventSummary` instead of ``tf.summary``.

    Epoch scalars land under ``train/`` and ``validation/`` with Keras's own tags
    (``epoch_loss``, ``epoch_learning_rate``, ...), so readers cannot tell the files
    from TensorFlow's. Takes Keras's parameters; those only TensorFlow can honour are
    turned off (see :func:`without_tensorflow_only`).
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._event_summary = EventSummary()

    @property
    def summary(self) -> EventSummary:
        return self._event_summary


def without_tensorflow_only(params: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
    """``params`` with the TensorFlow-only parameters off, warning once for each the user turned on.

    ``write_graph`` is on by Keras's default, so it warns only when the user set it.

    Args:
        params: The callback's parameters.
        explicit: The parameters the user passed.

    Returns:
        The parameters to build the callback with.
    """
    for name, off in NEEDS_TENSORFLOW.items():
        value = params.get(name, off)
        if value and value != off and (name != "write_graph" or name in explicit):
            warnings.warn(
                f"TensorBoard({name}={value!r}) needs TensorFlow's summaries, which sweeper writes only on "
                "the TensorFlow backend: here only the scalars are logged.",
                stacklevel=3,
            )
    return {**params, **NEEDS_TENSORFLOW}
