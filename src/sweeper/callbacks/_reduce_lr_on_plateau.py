"""``sweeper.ReduceLROnPlateau``: Keras's ReduceLROnPlateau with searchable parameters."""

from __future__ import annotations

from typing import Any

from sweeper._direction import MODES
from sweeper.callbacks._spec import BuildContext, CallbackSpec, is_int, is_number


class ReduceLROnPlateau(CallbackSpec):
    """Multiplies the learning rate by ``factor`` when the monitored value plateaus.

    Takes the classic Keras parameters, each a fixed value or a search space:
    ``monitor`` (defaults to the study's), ``factor=0.1``, ``patience=10``,
    ``verbose=0``, ``mode="auto"``, ``min_delta=1e-4``, ``cooldown=0`` and
    ``min_lr=0``. The Keras 2 name ``epsilon`` maps to ``min_delta`` with a warning.
    Keras 3 silently swallows unknown keywords; sweeper refuses them.

    Example:
        ``sw.ReduceLROnPlateau(factor=sw.choice(0.1, 0.5), patience=2, min_lr=1e-5)``
    """

    keras_name = "ReduceLROnPlateau"
    defaults = {
        "monitor": None,
        "factor": 0.1,
        "patience": 10,
        "verbose": 0,
        "mode": "auto",
        "min_delta": 1e-4,
        "cooldown": 0,
        "min_lr": 0.0,
    }
    renamed = {"epsilon": "min_delta"}

    def _check(self, name: str, value: Any) -> None:
        if name == "factor":
            self._require(is_number(value) and 0 < value < 1, name, value, "a number with 0 < factor < 1")
        elif name in ("patience", "cooldown", "verbose"):
            self._require(is_int(value) and value >= 0, name, value, "an integer >= 0")
        elif name in ("min_delta", "min_lr"):
            self._require(is_number(value) and value >= 0, name, value, "a number >= 0")
        elif name == "mode":
            self._require(value in MODES, name, value, f"one of {MODES}")
        elif name == "monitor":
            self._require(value is None or isinstance(value, str), name, value, "a metric name")

    def build(self, values: dict[str, Any], context: BuildContext) -> Any:
        import keras

        monitor, mode = self.monitor_and_mode(values, context)
        return keras.callbacks.ReduceLROnPlateau(**{**values, "monitor": monitor, "mode": mode})
