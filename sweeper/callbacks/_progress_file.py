"""A Keras callback that keeps a small file saying where a running trial is.

``sweeper status`` and the live view read it (``callbacks/_progress_record.py``) to
show the epoch and batch a trial is at, and to tell a slow trial from a stuck one.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import Any

import keras

from sweeper.callbacks._progress_record import PROGRESS_FILE, read_progress, write_progress
from sweeper.study._direction import Mode, is_better

__all__ = ["PROGRESS_FILE", "ProgressFile", "read_progress"]


class ProgressFile(keras.callbacks.Callback):
    """Writes the trial's progress to a JSON file, atomically, as it trains.

    The file holds ``epoch`` (0-based, the epoch being trained or just ended),
    ``epochs``, ``batch`` (0-based, the last finished batch of that epoch, or
    ``null``), ``steps`` (batches per epoch, ``null`` when Keras does not know),
    ``value`` (the last ended epoch's monitored value), ``best`` (the best so far
    by ``mode``), ``epochs_done``, ``started`` and ``updated`` (unix times) and the
    writing process's ``pid``.

    It writes on train begin and at every epoch's begin and end, and after a batch
    at most once every ``every_s`` seconds. A failed write (a full disk) is skipped:
    a progress file is never worth a trial.

    Args:
        path: The progress file, ``runs/<study>/trials/<number>/progress.json``.
        monitor: The monitored quantity.
        mode: ``"min"`` or ``"max"``.
        epochs: The epochs the fit runs at most.
        every_s: The least time between two writes after batches. Defaults to ``1.0``.
    """

    def __init__(self, path: Path, monitor: str, mode: Mode, epochs: int, *, every_s: float = 1.0) -> None:
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.mode = mode
        self.epochs = epochs
        self.every_s = every_s
        self._reset()

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._reset()
        self._started = time.time()
        with contextlib.suppress(OSError):  # then every write fails, quietly: see _write
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch, self._batch = epoch, None
        self._write()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batch = batch
        # Called after every batch: only a clock read and a compare unless a write is due.
        if time.monotonic() - self._last_write < self.every_s:
            return
        self._write()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch, self._epochs_done = epoch, epoch + 1
        self._value = _finite((logs or {}).get(self.monitor))
        if self._value is not None and is_better(self._value, self._best, self.mode):
            self._best = self._value
        self._write()

    def record(self) -> dict[str, Any]:
        """What the file holds now.

        Returns:
            The progress record, as written.
        """
        params = self.params or {}
        return {
            "epoch": self._epoch,
            "epochs": self.epochs,
            "batch": self._batch,
            "steps": params.get("steps"),
            "value": self._value,
            "best": self._best,
            "epochs_done": self._epochs_done,
            "started": self._started,
            "updated": time.time(),
            "pid": os.getpid(),
        }

    def _reset(self) -> None:
        self._epoch = 0
        self._batch: int | None = None
        self._value: float | None = None
        self._best: float | None = None
        self._epochs_done = 0
        self._started = time.time()
        self._last_write = -math.inf

    def _write(self) -> None:
        self._last_write = time.monotonic()
        try:
            write_progress(self.path, self.record())
        except OSError:
            pass  # the trial goes on; the next write tries again


def _finite(value: Any) -> float | None:
    """The value as a float; ``None`` when missing or not finite, which JSON cannot hold."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
