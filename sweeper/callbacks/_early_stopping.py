"""``sweeper.EarlyStopping``: Keras's EarlyStopping with searchable parameters."""

from __future__ import annotations

from typing import Any

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


# The trial user attr holding a trial's EarlyStopping settings, as its Keras callback ran them.
EARLY_STOPPING_ATTR = "early_stopping"


def early_stopping_settings(callback: Any) -> dict[str, Any]:
    """What a fitted ``keras.callbacks.EarlyStopping`` ran with, for the reports' replay.

    The mode is the one Keras resolved at the first epoch (its ``monitor_op`` is
    ``ops.less`` or ``ops.greater``), so an ``"auto"`` mode on a monitor of the
    callback's own is recorded as ``"min"`` or ``"max"``. ``min_delta`` is its
    magnitude, as Keras takes ``abs(min_delta)``.

    Args:
        callback: The fitted callback.

    Returns:
        ``monitor``, ``mode`` (``None`` when no epoch resolved it), ``patience``,
        ``min_delta``, ``baseline``, ``start_from_epoch`` and ``restore_best_weights``,
        as plain Python values a storage can hold.
    """
    operator = getattr(getattr(callback, "monitor_op", None), "__name__", None)
    mode = {"less": "min", "greater": "max"}.get(operator)
    if mode is None and callback.mode in ("min", "max"):
        mode = callback.mode
    baseline = callback.baseline
    return {
        "monitor": str(callback.monitor),
        "mode": mode,
        "patience": int(callback.patience),
        "min_delta": abs(float(callback.min_delta)),
        "baseline": None if baseline is None else float(baseline),
        "start_from_epoch": int(callback.start_from_epoch),
        "restore_best_weights": bool(callback.restore_best_weights),
    }
