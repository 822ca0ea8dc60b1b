"""The EarlyStopping replay's logic: Keras 3's EarlyStopping run over logged curves, vectorised with numpy.

EarlyStopping only ends a fit; until it does, a run is the same whatever its patience.
So a trial's logged curve tells exactly where any EarlyStopping setting would have
stopped it, as long as that is no later than where the trial did stop. This module
holds the pure logic; ``_replay_tables.py`` turns reports into its arrays and back.

Keras 3's rules (``keras/src/callbacks/early_stopping.py`` and ``monitor_callback.py``),
as :func:`stop_epochs` follows them, epoch by epoch:

- an epoch before ``start_from_epoch``, or without the monitor, is skipped: ``wait`` does not grow;
- ``wait`` grows by one *before* the improvement check;
- an epoch improves when ``monitor_op(current - min_delta, best)`` holds, ``min_delta`` being
  ``abs(min_delta)`` in max mode and ``-abs(min_delta)`` in min mode; the first epoch watched
  always improves (``best`` is ``None``);
- an improving epoch becomes ``best``, but resets ``wait`` only if it also beats ``baseline``
  by the same rule; an improving epoch never stops training;
- any other epoch stops training when ``wait >= patience`` and ``epoch > 0``.

``monitor_op`` is ``ops.less`` or ``ops.greater`` on Python floats, which the backends
convert to float32 tensors: the difference ``current - min_delta`` is taken in float64
and rounded to float32, then compared with ``best`` (or ``baseline``) in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_STOP = -1
# One replayed setting: the EarlyStopping parameters a replay varies.
SETTING_COLUMNS = ["patience", "min_delta", "baseline", "start_from_epoch"]
# replay.csv: one row per (trial, replayed setting).
REPLAY_COLUMNS = [
    "trial",
    *SETTING_COLUMNS,
    "stop_epoch",
    "epochs_run",
    "best_epoch",
    "value",
    "value_change",
    "epochs_saved",
    "censored",
]
# replay_summary.csv: one row per replayed setting.
SUMMARY_COLUMNS = [
    *SETTING_COLUMNS,
    "trials",
    "censored",
    "value_change_mean",
    "unchanged_share",
    "epochs_saved_total",
    "epochs_saved_mean",
]
# Report.early_stopping: each trial's recorded EarlyStopping, as its Keras callback ran it.
RECORDED_COLUMNS = [
    "trial",
    "monitor",
    "mode",
    *SETTING_COLUMNS,
    "restore_best_weights",
    "max_epochs",
]


@dataclass(frozen=True)
class Settings:
    """EarlyStopping settings to replay, one element per (curve, setting) pair.

    Args:
        curve: Which row of the curves each setting watches.
        patience: Keras's ``patience``.
        min_delta: Keras's ``min_delta`` (its magnitude counts, as in Keras).
        baseline: Keras's ``baseline``; NaN for none.
        start_from_epoch: Keras's ``start_from_epoch``.
        maximize: Whether the mode, as Keras resolved it, is ``"max"``.
    """

    curve: np.ndarray
    patience: np.ndarray
    min_delta: np.ndarray
    baseline: np.ndarray
    start_from_epoch: np.ndarray
    maximize: np.ndarray

    @classmethod
    def of(cls, curve, patience, min_delta, baseline, start_from_epoch, maximize) -> Settings:
        """Settings from array-likes (or scalars) broadcast to one length."""
        arrays = np.broadcast_arrays(
            np.asarray(curve, dtype=np.int64),
            np.asarray(patience, dtype=np.int64),
            np.abs(np.asarray(min_delta, dtype=np.float64)),
            np.asarray(baseline, dtype=np.float64),
            np.asarray(start_from_epoch, dtype=np.int64),
            np.asarray(maximize, dtype=bool),
        )
        return cls(*(np.array(array, ndmin=1) for array in arrays))


def stop_epochs(curves: np.ndarray, lengths: np.ndarray, settings: Settings) -> np.ndarray:
    """The epoch at which each setting's EarlyStopping would stop training, as Keras 3 decides it.

    One pass over the epochs, each a handful of numpy operations over every
    (curve, setting) pair at once.

    Args:
        curves: The EarlyStopping monitor's values, one row per curve, one column per
            epoch (0-based); NaN is a NaN value, as Keras would see it.
        lengths: How many epochs of each curve were logged; later columns are ignored.
        settings: The settings, each watching one curve.

    Returns:
        The 0-based stop epoch of each setting, or :data:`NO_STOP` when it does not
        stop within its curve's logged epochs.
    """
    curves = np.asarray(curves, dtype=np.float32)
    lengths = np.asarray(lengths, dtype=np.int64)
    pairs = len(settings.curve)
    stop = np.full(pairs, NO_STOP, dtype=np.int64)
    if pairs == 0 or curves.size == 0:
        return stop
    watched = curves[settings.curve]
    length = lengths[settings.curve]
    maximize = settings.maximize
    # MonitorCallback keeps abs(min_delta), negated in min mode: the op compares current - min_delta.
    signed_delta = np.where(maximize, settings.min_delta, -settings.min_delta)
    has_baseline = ~np.isnan(settings.baseline)
    baseline = settings.baseline.astype(np.float32)
    best = np.full(pairs, np.nan, dtype=np.float32)
    has_best = np.zeros(pairs, dtype=bool)
    wait = np.zeros(pairs, dtype=np.int64)
    running = np.ones(pairs, dtype=bool)
    for epoch in range(min(watched.shape[1], int(length.max()))):
        current = watched[:, epoch]
        active = running & (epoch < length) & (epoch >= settings.start_from_epoch)
        shifted = (current.astype(np.float64) - signed_delta).astype(np.float32)
        wait += active
        improved = active & (~has_best | _beats(shifted, best, maximize))
        best = np.where(improved, current, best)
        has_best |= improved
        # Only an improvement that also beats the baseline restarts the wait.
        wait[improved & (~has_baseline | _beats(shifted, baseline, maximize))] = 0
        # `epoch > 0` is Keras's guard; a fresh fit never reaches it, as its first watched epoch improves.
        stops = active & ~improved & (wait >= settings.patience) & (epoch > 0)
        stop[stops] = epoch
        running &= ~stops
    return stop


def running_best(values: np.ndarray, maximize: bool) -> np.ndarray:
    """The best value so far at each epoch of each row, as the trial's objective counts it.

    Args:
        values: The study's monitor, one row per curve; NaN marks an epoch that does
            not count (a diverged epoch's, or one not logged).
        maximize: Whether the study maximises its monitor.

    Returns:
        The same shape: the best value up to and including each epoch, NaN before the first.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    accumulate = np.fmax.accumulate if maximize else np.fmin.accumulate
    return accumulate(values, axis=1)


def running_best_epoch(values: np.ndarray, maximize: bool) -> np.ndarray:
    """The epoch of the best value so far at each epoch of each row: the first epoch that reached it.

    Args:
        values: As for :func:`running_best`.
        maximize: Whether the study maximises its monitor.

    Returns:
        The same shape, as integers; -1 before the first epoch that counts.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.astype(np.int64)
    best = running_best(values, maximize)
    previous = np.concatenate([np.full((len(values), 1), np.nan), best[:, :-1]], axis=1)
    # An epoch sets a new best when it is the first that counts or strictly beats the best before it.
    improves = np.isfinite(values) & (np.isnan(previous) | (values > previous if maximize else values < previous))
    epochs = np.where(improves, np.arange(values.shape[1]), -1)
    return np.maximum.accumulate(epochs, axis=1)


def _beats(value: np.ndarray, reference: np.ndarray, maximize: np.ndarray) -> np.ndarray:
    """``ops.greater`` in max mode, ``ops.less`` in min mode; False against NaN, as in float32 tensors."""
    return np.where(maximize, value > reference, value < reference)
