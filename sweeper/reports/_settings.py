"""``settings.csv``: how each combination of callback settings fared."""

from __future__ import annotations

import re

import pandas as pd

CALLBACK_PARAM = re.compile(r"^params_[A-Z][A-Za-z0-9]*\.[a-z_0-9]+$")
SETTINGS_COLUMNS = [
    "trials",
    "complete",
    "pruned",
    "failed",
    "value_mean",
    "value_std",
    "value_best",
    "epochs_mean",
    "wasted_epochs_mean",
]


def callback_setting_columns(trials: pd.DataFrame) -> list[str]:
    """The ``params_<Callback>.<param>`` columns of a trials table."""
    return [c for c in trials.columns if CALLBACK_PARAM.match(c)]


def settings_frame(trials: pd.DataFrame, mode: str) -> pd.DataFrame:
    """One row per distinct combination of searched callback settings.

    Value statistics cover COMPLETE trials only: a pruned trial's value is that of a
    truncated run, and would drag a setting's mean toward where the pruner cut it.
    Wasted epochs are those run after the best one: what a patience setting costs.

    Args:
        trials: The trials table (``trials.csv``).
        mode: ``"max"`` or ``"min"``, for ``value_best`` and the row order.

    Returns:
        The settings columns as the index (one row, ``all``, when nothing was
        searched), then ``trials``, ``complete``, ``pruned``, ``failed``,
        ``value_mean``, ``value_std``, ``value_best``, ``epochs_mean`` and
        ``wasted_epochs_mean``; best mean value first.
    """
    keys = callback_setting_columns(trials)
    frame = trials.assign(
        _complete=trials["state"].eq("COMPLETE"),
        _pruned=trials["state"].eq("PRUNED"),
        _failed=trials["state"].eq("FAIL"),
        _value=trials["value"].where(trials["state"].eq("COMPLETE")),
        _wasted=trials["epochs_run"] - (trials["best_epoch"] + 1),
    )
    if not keys:
        frame = frame.assign(settings="all")
        keys = ["settings"]
    grouped = frame.groupby(keys, dropna=False)
    table = pd.DataFrame(
        {
            "trials": grouped.size(),
            "complete": grouped["_complete"].sum(),
            "pruned": grouped["_pruned"].sum(),
            "failed": grouped["_failed"].sum(),
            "value_mean": grouped["_value"].mean(),
            "value_std": grouped["_value"].std(),
            "value_best": grouped["_value"].max() if mode == "max" else grouped["_value"].min(),
            "epochs_mean": grouped["epochs_run"].mean(),
            "wasted_epochs_mean": grouped["_wasted"].mean(),
        }
    )
    table.columns.name = None
    return table.sort_values("value_mean", ascending=(mode != "max"), na_position="last")[SETTINGS_COLUMNS]
