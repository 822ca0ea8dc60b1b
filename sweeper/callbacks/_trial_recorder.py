"""Records what a trial's epochs did: best value, divergence, learning-rate drops."""

from __future__ import annotations

import math
from typing import Any

import keras

from sweeper.study._direction import Mode, check_monitor, is_better, is_diverged


class TrialRecorder(keras.callbacks.Callback):
    """Tracks the monitored value, the learning rate and divergence over a fit.

    It runs after the user's callbacks, so it sees the learning rate that
    ReduceLROnPlateau set for the next epoch.

    Args:
        monitor: The study's monitored quantity.
        mode: ``"min"`` or ``"max"``.
    """

    def __init__(self, monitor: str, mode: Mode) -> None:
        super().__init__()
        self.monitor = monitor
        self.mode = mode

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.epochs_run = 0
        self.diverged_epoch: int | None = None
        self.lr_initial = self._learning_rate()
        self.lr_final = self.lr_initial
        self.lr_reductions = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Checked every batch, as Keras's TerminateOnNaN does: a diverged trial stops
        # within the epoch instead of training the rest of it on NaN weights.
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._diverged()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self._epoch = epoch
        self.epochs_run = epoch + 1
        self._record_learning_rate()
        check_monitor(self.monitor, logs)
        if self.diverged_epoch is not None or is_diverged(logs):
            # A diverged trial never recovers; stop now and keep the best epoch's checkpoint.
            self._diverged()
            return
        value = float(logs[self.monitor])
        if is_better(value, self.best, self.mode):
            self.best, self.best_epoch = value, epoch

    def _diverged(self) -> None:
        if self.diverged_epoch is None:
            self.diverged_epoch = self._epoch
        self.model.stop_training = True

    def _record_learning_rate(self) -> None:
        lr = self._learning_rate()
        if lr is None or self.lr_final is None:
            return
        if lr < self.lr_final:
            self.lr_reductions += 1
        self.lr_final = lr

    def _learning_rate(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return None
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
