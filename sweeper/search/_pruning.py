"""The bridge from Keras epochs to Optuna pruning."""

from __future__ import annotations

from typing import Any

import keras
import optuna

from sweeper.study._direction import Mode, is_better, is_diverged


class PruningBridge(keras.callbacks.Callback):
    """Reports the monitored value to Optuna each epoch and stops pruned trials.

    Unlike ``optuna_integration.TFKerasPruningCallback``, which raises
    ``TrialPruned`` from inside ``fit``, it stops training the way EarlyStopping
    does (``model.stop_training = True``), so TensorBoard and checkpoint writers
    close cleanly and the epoch's logs are kept.

    It reports the best value so far rather than the epoch's value: the objective is
    the best value, and a monotone curve keeps one noisy epoch, or the dip after a
    learning-rate drop, from getting a trial pruned.

    Args:
        trial: The running Optuna trial.
        monitor: The study's monitored quantity.
        mode: ``"min"`` or ``"max"``.
    """

    def __init__(self, trial: optuna.trial.Trial, monitor: str, mode: Mode) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.mode = mode

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best: float | None = None
        self.pruned_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        current = logs.get(self.monitor)
        if current is None or is_diverged(logs):
            return
        if is_better(float(current), self.best, self.mode):
            self.best = float(current)
        self.trial.report(self.best, step=epoch)
        if self.model.stop_training:
            return  # EarlyStopping (or divergence) already ended the trial this epoch.
        if self.trial.should_prune():
            self.pruned_epoch = epoch
            self.model.stop_training = True
