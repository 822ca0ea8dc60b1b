"""``sweeper.EarlyStopping``: Keras's EarlyStopping with searchable parameters."""

from __future__ import annotations

from sweeper.callbacks._spec import (
    BOOLEAN,
    MODE,
    MONITOR,
    NON_NEGATIVE_INT,
    NON_NEGATIVE_NUMBER,
    NUMBER_OR_NONE,
    MonitoredKerasSpec,
)


class EarlyStopping(MonitoredKerasSpec):
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
    rules = {
        "monitor": MONITOR,
        "min_delta": NON_NEGATIVE_NUMBER,
        "patience": NON_NEGATIVE_INT,
        "verbose": NON_NEGATIVE_INT,
        "mode": MODE,
        "baseline": NUMBER_OR_NONE,
        "restore_best_weights": BOOLEAN,
        "start_from_epoch": NON_NEGATIVE_INT,
    }
