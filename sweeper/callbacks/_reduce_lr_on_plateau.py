"""``sweeper.ReduceLROnPlateau``: Keras's ReduceLROnPlateau with searchable parameters."""

from __future__ import annotations

from sweeper.callbacks._spec import (
    MODE,
    MONITOR,
    NON_NEGATIVE_INT,
    NON_NEGATIVE_NUMBER,
    MonitoredKerasSpec,
    Rule,
    is_number,
)

FACTOR = Rule(lambda v: is_number(v) and 0 < v < 1, "a number with 0 < factor < 1")


class ReduceLROnPlateau(MonitoredKerasSpec):
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
    rules = {
        "monitor": MONITOR,
        "factor": FACTOR,
        "patience": NON_NEGATIVE_INT,
        "verbose": NON_NEGATIVE_INT,
        "mode": MODE,
        "min_delta": NON_NEGATIVE_NUMBER,
        "cooldown": NON_NEGATIVE_INT,
        "min_lr": NON_NEGATIVE_NUMBER,
    }
    renamed = {"epsilon": "min_delta"}
