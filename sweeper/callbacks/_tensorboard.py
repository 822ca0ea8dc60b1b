"""``sweeper.TensorBoard``: one TensorBoard log directory per trial."""

from __future__ import annotations

from typing import Any

from sweeper.callbacks._spec import BOOLEAN, NON_NEGATIVE_INT, BuildContext, CallbackSpec, Rule, is_int, trial_path


class TensorBoard(CallbackSpec):
    """Writes each trial's TensorBoard logs, by default to ``runs/<study>/trials/<n>/tensorboard``.

    Takes every classic Keras parameter: ``log_dir``, ``histogram_freq=0``,
    ``batch_size``, ``write_graph=True``, ``write_grads``, ``write_images=False``,
    ``embeddings_freq=0``, ``embeddings_layer_names``, ``embeddings_metadata=None``,
    ``embeddings_data``, ``update_freq="epoch"``, plus the later ``profile_batch=0``
    and ``write_steps_per_second=False``. Keras 3 raises a TypeError on
    ``batch_size``, ``write_grads``, ``embeddings_layer_names`` and
    ``embeddings_data``; sweeper accepts them with a one-line warning naming what
    replaced them.

    A relative ``log_dir`` lands inside the trial's folder; an absolute one gets the
    trial number appended unless it contains ``{trial}``.

    On JAX or PyTorch, the same scalar event files are written by the ``tensorboard``
    package alone, without TensorFlow (nor its import, where it is installed); the
    parameters that need TensorFlow (``histogram_freq``, ``write_graph``,
    ``write_images``, ``profile_batch``, embeddings) are off there, with a one-line
    warning when the study turns them on.
    """

    keras_name = "TensorBoard"
    defaults = {
        "log_dir": None,
        "histogram_freq": 0,
        "write_graph": True,
        "write_images": False,
        "write_steps_per_second": False,
        "update_freq": "epoch",
        "profile_batch": 0,
        "embeddings_freq": 0,
        "embeddings_metadata": None,
    }
    rules = {
        "histogram_freq": NON_NEGATIVE_INT,
        "embeddings_freq": NON_NEGATIVE_INT,
        "write_graph": BOOLEAN,
        "write_images": BOOLEAN,
        "write_steps_per_second": BOOLEAN,
        "update_freq": Rule(
            lambda v: v in ("epoch", "batch") or (is_int(v) and v > 0), "'epoch', 'batch' or a positive integer"
        ),
    }
    removed = {
        "batch_size": "Keras 3 dropped it; histograms are computed from the layer weights, not from batches.",
        "write_grads": "Keras 3 dropped gradient histograms; histogram_freq logs weight histograms instead.",
        "embeddings_layer_names": (
            "Keras 3 projects every Embedding layer; embeddings_metadata={layer_name: file} picks metadata per layer."
        ),
        "embeddings_data": "Keras 3 projects Embedding layer weights, not activations computed from embeddings_data.",
    }

    def build(self, values: dict[str, Any], context: BuildContext) -> Any:
        import keras

        # Imports Keras at its top: a worker's module, loaded only once a trial builds its callbacks.
        from sweeper.callbacks._event_file_tensorboard import (
            EventFileTensorBoard,
            tensorflow_writes_summaries,
            without_tensorflow_only,
        )

        log_dir = values["log_dir"]
        log_dir = (
            context.paths.tensorboard if log_dir is None else trial_path(str(log_dir), context.paths, is_file=False)
        )
        params = {**values, "log_dir": str(log_dir)}
        if tensorflow_writes_summaries():
            return keras.callbacks.TensorBoard(**params)
        return EventFileTensorBoard(**without_tensorflow_only(params, set(self.params)))
