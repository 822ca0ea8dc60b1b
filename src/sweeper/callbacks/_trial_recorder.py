"""Records what a trial's epochs did: best value, divergence, learning-rate drops."""

from __future__ import annotations

import math
from typing import Any

import keras

from sweeper._direction import Mode, check_monitor, is_better


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

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self.epochs_run = epoch + 1
        self._record_learning_rate()
        check_monitor(self.monitor, logs)
        value = float(logs[self.monitor])
        loss = float(logs.get("loss", 0.0))
        if not (math.isfinite(value) and math.isfinite(loss)):
            # A diverged trial never recovers; stop now and keep the best epoch's checkpoint.
            self.diverged_epoch = epoch
            self.model.stop_training = True
            return
        if is_better(value, self.best, self.mode):
            self.best, self.best_epoch = value, epoch

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
