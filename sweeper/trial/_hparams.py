"""TensorBoard HParams summaries, so the HParams dashboard compares a study's trials."""

from __future__ import annotations

from typing import Any

from sweeper.callbacks._event_summary import EventSummary, scalar_summary, tensorflow_writes_summaries


def write_hparams(logdir: str, trial_number: int, params: dict[str, Any], metrics: dict[str, float | None]) -> None:
    """Writes a trial's params and final metrics as an HParams session in ``logdir``.

    ``logdir`` is the trial's TensorBoard folder, the parent of Keras's ``train`` and
    ``validation`` runs, so the dashboard groups those runs' curves under the trial.

    Args:
        logdir: The trial's TensorBoard folder.
        trial_number: The trial, as the session's id.
        params: The trial's Optuna params.
        metrics: Final values to show beside the params, e.g. ``{"best_val_accuracy": 0.97}``.
    """
    values = {name: _hparam_value(value) for name, value in params.items()}
    if not tensorflow_writes_summaries():
        _write_without_tensorflow(logdir, trial_number, values, metrics)
        return
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
        hp.hparams(values, trial_id=str(trial_number))
        for name, value in metrics.items():
            if value is not None:
                tf.summary.scalar(name, value, step=0)
    writer.close()


def _write_without_tensorflow(
    logdir: str, trial_number: int, values: dict[str, Any], metrics: dict[str, float | None]
) -> None:
    """The same session summary and metric scalars as :func:`write_hparams`'s, written by ``tensorboard`` alone."""
    # hparams_pb builds the summary proto without TensorFlow; hparams() would write it with tf.summary.
    from tensorboard.plugins.hparams.summary_v2 import hparams_pb

    writer = EventSummary().create_file_writer(logdir)
    writer.write(hparams_pb(values, trial_id=str(trial_number)), step=0)
    for name, value in metrics.items():
        if value is not None:
            writer.write(scalar_summary(name, value), step=0)
    writer.close()


def _hparam_value(value: Any) -> bool | int | float | str:
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
