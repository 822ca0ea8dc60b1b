"""``TrialTimeLimit``: stops a trial's fit at the first batch end past its time limit."""

from __future__ import annotations

import time
from typing import Any

import keras


class TrialTimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first batch (or epoch) that ends past ``deadline``.

    Keras checks ``stop_training`` after every batch, so the trial stops within one
    batch of its limit; the epoch it was in still validates and ends as Keras ends any
    stopped epoch, so the trial keeps a value if it had trained at all.

    Args:
        deadline: ``time.monotonic()`` past which the trial stops: its start plus its limit.
        limit_s: The limit, for the reports. Must be positive.
    """

    def __init__(self, deadline: float, limit_s: float) -> None:
        super().__init__()
        if not limit_s > 0:
            raise ValueError(f"the trial time limit must be positive, got {limit_s=}")
        self.deadline = deadline
        self.limit_s = limit_s

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.timed_out_epoch: int | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._check()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._check()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._check()

    @property
    def timed_out(self) -> bool:
        """Whether the limit stopped this fit."""
        return self.timed_out_epoch is not None

    def _check(self) -> None:
        if self.timed_out or time.monotonic() < self.deadline:
            return
        self.timed_out_epoch = self._epoch
        self.model.stop_training = True
