"""``sweeper.EarlyStopping``: Keras's EarlyStopping with searchable parameters."""

from __future__ import annotations

from typing import Any

from sweeper._direction import MODES
from sweeper.callbacks._spec import BuildContext, CallbackSpec, is_int, is_number


class EarlyStopping(CallbackSpec):
    """Stops a trial when its monitored value stops improving.

    Takes the classic Keras parameters, each a fixed value or a search space:
    ``monitor`` (defaults to the study's), ``min_delta=0``, ``patience=0``,
    ``verbose=0``, ``mode="auto"``, ``baseline=None``, ``restore_best_weights=False``
    and ``start_from_epoch=0``.

    Example:
        ``sw.EarlyStopping(patience=sw.choice(3, 6, 10), min_delta=1e-3)``
    """

    keras_name = "EarlyStopping"
    defaults = {
        "monitor": None,
        "min_delta": 0,
        "patience": 0,
        "verbose": 0,
        "mode": "auto",
        "baseline": None,
        "restore_best_weights": False,
        "start_from_epoch": 0,
    }

    def _check(self, name: str, value: Any) -> None:
        if name in ("patience", "start_from_epoch", "verbose"):
            self._require(is_int(value) and value >= 0, name, value, "an integer >= 0")
        elif name == "min_delta":
            self._require(is_number(value) and value >= 0, name, value, "a number >= 0")
        elif name == "baseline":
            self._require(value is None or is_number(value), name, value, "a number or None")
        elif name == "mode":
            self._require(value in MODES, name, value, f"one of {MODES}")
        elif name == "monitor":
            self._require(value is None or isinstance(value, str), name, value, "a metric name")

    def build(self, values: dict[str, Any], context: BuildContext) -> Any:
        import keras

        monitor, mode = self.monitor_and_mode(values, context)
        return keras.callbacks.EarlyStopping(**{**values, "monitor": monitor, "mode": mode})
