"""Keras's ``mode="auto"`` rule, resolved in one place for the whole sweep."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any, Literal

from sweeper._compat import compiled_metrics, metric_direction
from sweeper._errors import MonitorNotFoundError, StudyFileError

Mode = Literal["min", "max"]
MODES = ("auto", "min", "max")


def resolve_mode(monitor: str, mode: str, model: Any = None) -> Mode:
    """Resolves ``mode`` for ``monitor`` the way Keras 3's ``MonitorCallback`` does.

    ``loss`` (with or without ``val_``) means ``min``; otherwise a compiled metric of
    that name decides by its ``_direction``.

    Args:
        monitor: The monitored quantity, e.g. ``"val_accuracy"``.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        model: A compiled model whose metrics are built. Defaults to ``None``, which
            resolves only ``loss`` and explicit modes.

    Returns:
        ``"min"`` or ``"max"``.

    Raises:
        StudyFileError: When the mode is unknown or cannot be inferred.
    """
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise StudyFileError(f"mode={mode!r} is not one of {MODES}.", fix="use mode='min' or 'max'.")
    metric_name = monitor.removeprefix("val_")
    if metric_name == "loss":
        return "min"
    direction = _metric_direction(model, metric_name)
    if direction is None:
        raise StudyFileError(
            f"cannot tell whether monitor={monitor!r} should be maximised or minimised.",
            fix="pass mode='max' or mode='min' to sweeper.Study.",
        )
    return "max" if direction == "up" else "min"


def _metric_direction(model: Any, metric_name: str) -> str | None:
    for metric in compiled_metrics(model):
        if metric.name == metric_name:
            return metric_direction(metric)
    return None


def is_better(current: float, best: float | None, mode: Mode, min_delta: float = 0.0) -> bool:
    """Whether ``current`` improves on ``best`` by more than ``min_delta``."""
    if best is None:
        return True
    if mode == "max":
        return current - min_delta > best
    return current + min_delta < best


def check_monitor(monitor: str, available: Iterable[str], *, owner: str = "monitor") -> None:
    """Raises a clear error when ``monitor`` is not among the logged keys.

    Args:
        monitor: The key a callback or the study monitors.
        available: The keys the model logs each epoch.
        owner: Which field names the monitor, for the message. Defaults to
            ``"monitor"``.

    Raises:
        MonitorNotFoundError: Naming the available keys and the closest match.
    """
    keys = sorted(set(available))
    if monitor in keys:
        return
    hint = _closest(monitor, keys)
    fix = f"did you mean {hint!r}?" if hint else f"monitor one of {keys}."
    raise MonitorNotFoundError(f"{owner}={monitor!r} is not logged by the model; it logs {keys}.", fix=fix)


def _closest(monitor: str, keys: list[str]) -> str | None:
    aliases = {"acc": "accuracy", "val_acc": "val_accuracy", "lr": "learning_rate"}
    if aliases.get(monitor) in keys:
        return aliases[monitor]
    matches = difflib.get_close_matches(monitor, keys, n=1, cutoff=0.6)
    return matches[0] if matches else None


def is_diverged(logs: dict[str, Any]) -> bool:
    """Whether an epoch's logs hold a NaN or infinite number: its weights are garbage.

    Such weights can still score a finite accuracy (the argmax of NaN is class 0), so
    nothing may take that epoch for an improvement.
    """
    return any(isinstance(value, (int, float)) and not math.isfinite(value) for value in logs.values())
