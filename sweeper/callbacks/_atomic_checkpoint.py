"""A ModelCheckpoint that saves every N epochs and never leaves a half-written file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras

from sweeper._compat import tensorflow_left_unimported
from sweeper._errors import MonitorNotFoundError
from sweeper.callbacks._temp_files import remove_stale_temp_files, temp_path_for
from sweeper.study._direction import is_better, is_diverged, resolve_mode


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the model at epoch ends, optionally only when the monitor improves.

    Keras 3's ModelCheckpoint writes in place and has no ``period``. This one writes
    to a temporary file beside the target and renames it, which is atomic on POSIX,
    so a worker killed mid-save leaves the previous best intact.

    Args:
        filepath: The target, a ``str.format`` template over ``epoch`` (1-based) and
            the epoch's logs.
        monitor: The logged quantity that decides what is best.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        verbose: 1 prints a line per save. Defaults to ``0``.
        save_best_only: Save only when ``monitor`` improves. Defaults to ``True``.
        save_weights_only: Save weights (``.weights.h5``) instead of the model.
            Defaults to ``False``.
        period: Save, or check for a new best, every ``period`` epochs. Defaults to
            ``1``.
        initial_value_threshold: A value the monitor must beat before the first save.
            Defaults to ``None``.
        trial_number: The trial, for ``{trial}`` in the template. Defaults to ``0``.
    """

    def __init__(
        self,
        filepath: str,
        monitor: str,
        mode: str = "auto",
        verbose: int = 0,
        save_best_only: bool = True,
        save_weights_only: bool = False,
        period: int = 1,
        initial_value_threshold: float | None = None,
        trial_number: int = 0,
    ) -> None:
        super().__init__()
        self.filepath = filepath
        self.monitor = monitor
        self.mode = mode
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.period = period
        self.initial_value_threshold = initial_value_threshold
        self.trial_number = trial_number

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best = self.initial_value_threshold
        self.best_path: str | None = None
        self.last_path: str | None = None
        # Every file it wrote, for deleting a trial's checkpoints that the study does not keep.
        self.saved_paths: list[str] = []
        self._resolved_mode: str | None = None
        self._epochs_since_save = 0
        remove_stale_temp_files(Path(self.filepath).parent)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self._epochs_since_save += 1
        if self._epochs_since_save < self.period:
            return
        self._epochs_since_save = 0
        if is_diverged(logs):
            return  # never let NaN weights become the trial's best checkpoint
        if self.save_best_only and not self._improved(epoch, logs):
            return
        self._save(self._path_for(epoch, logs))

    def _improved(self, epoch: int, logs: dict[str, Any]) -> bool:
        current = logs.get(self.monitor)
        if current is None:
            raise MonitorNotFoundError(
                f"ModelCheckpoint monitor={self.monitor!r} is not logged; the logs have {sorted(logs)}.",
                fix="set ModelCheckpoint(monitor=...) to one of them.",
            )
        if self._resolved_mode is None:
            self._resolved_mode = resolve_mode(self.monitor, self.mode, self.model)
        if not is_better(float(current), self.best, self._resolved_mode):
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
            return False
        if self.verbose:
            print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best} to {float(current):.5f}")
        self.best = float(current)
        return True

    def _path_for(self, epoch: int, logs: dict[str, Any]) -> Path:
        try:
            return Path(self.filepath.format(epoch=epoch + 1, trial=self.trial_number, **logs))
        except KeyError as error:
            raise MonitorNotFoundError(
                f"ModelCheckpoint filepath={self.filepath!r} names {{{error.args[0]}}}, which is not logged; "
                f"the logs have {sorted(logs)}.",
                fix="use only logged names and 'epoch' in the filepath template.",
            ) from None

    def _save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_path_for(path)
        if self.save_weights_only:
            self.model.save_weights(str(temp), overwrite=True)
        else:
            with tensorflow_left_unimported():  # Keras would import TensorFlow to check for its types
                self.model.save(str(temp), overwrite=True)
        os.replace(temp, path)
        self.last_path = str(path)
        if self.last_path not in self.saved_paths:
            self.saved_paths.append(self.last_path)
        if self.save_best_only:
            self.best_path = str(path)
        if self.verbose:
            print(f"saved {'weights' if self.save_weights_only else 'model'} to {path}")
