"""TensorBoard HParams summaries, so the HParams dashboard compares a study's trials."""

from __future__ import annotations

from typing import Any


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
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
        hp.hparams({name: _hparam_value(value) for name, value in params.items()}, trial_id=str(trial_number))
        for name, value in metrics.items():
            if value is not None:
                tf.summary.scalar(name, value, step=0)
    writer.close()


def _hparam_value(value: Any) -> bool | int | float | str:
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
