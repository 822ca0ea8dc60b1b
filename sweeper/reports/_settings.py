"""``settings.csv``: how each combination of callback settings fared, and how far the comparison can be trusted."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from sweeper.reports._observations import CALLBACK_PREFIX, EARLY_STOPPING, REDUCE_LR, observations_frame
from sweeper.reports._paired import PAIRED_COLUMNS, paired_comparison
from sweeper.study._searchable import CALLBACK_PARAM

# Below this many trials where a setting acted, its cell says little about the setting.
MIN_ACTED = 3
CONFIRM_HINT = "run `sweeper confirm STUDY.py --top 3 --repeats 3` to compare them on the same models and seeds"
COUNT_COLUMNS = [
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
ACTED_COLUMNS = ["early_stopping_acted", "reduce_lr_acted"]
SETTINGS_COLUMNS = [*COUNT_COLUMNS, *PAIRED_COLUMNS, *ACTED_COLUMNS, "note"]


class SettingsComparison(NamedTuple):
    """``settings.csv`` and what the report says beside it.

    Args:
        table: One row per combination of callback settings, :data:`SETTINGS_COLUMNS`.
        notes: Sentences about the comparison as a whole: paired or not, confounded,
            underpowered, and what to run instead.
    """

    table: pd.DataFrame
    notes: tuple[str, ...]


def callback_setting_columns(trials: pd.DataFrame) -> list[str]:
    """The ``params_<Callback>.<param>`` columns of a trials table."""
    return [
        c for c in trials.columns if c.startswith(CALLBACK_PREFIX) and CALLBACK_PARAM.match(c[len(CALLBACK_PREFIX) :])
    ]


def settings_frame(trials: pd.DataFrame, mode: str) -> pd.DataFrame:
    """``settings.csv`` from the trials alone, as they ran (no replay: EarlyStopping counts as not fired).

    Args:
        trials: The trials table.
        mode: ``"max"`` or ``"min"``.

    Returns:
        The table of :func:`compare_settings`.
    """
    keys = callback_setting_columns(trials)
    observations = observations_frame(trials, keys, pd.DataFrame(), pd.DataFrame())
    return compare_settings(observations, keys, mode).table


def compare_settings(
    observations: pd.DataFrame, keys: list[str], mode: str, *, confirm: bool = False
) -> SettingsComparison:
    """One row per distinct combination of searched callback settings, with its counts, statistics and caveats.

    Value statistics cover COMPLETE trials only: a pruned trial's value is that of a
    truncated run, and would drag a setting's mean toward where the pruner cut it.
    Wasted epochs are those run after the best one: what a patience setting costs.

    Args:
        observations: The results compared (``_observations.observations_frame``).
        keys: The callback setting columns; none gives one row, ``all``.
        mode: ``"max"`` or ``"min"``, for ``value_best`` and the row order.
        confirm: Whether the study is a confirm run (its notes then point elsewhere).
            Defaults to ``False``.

    Returns:
        The table, best mean value first, and its notes.
    """
    if not keys:
        observations = observations.assign(settings="all")
        keys = ["settings"]
    complete = observations["state"].eq("COMPLETE")
    frame = observations.assign(
        _complete=complete,
        _pruned=observations["state"].eq("PRUNED"),
        _failed=observations["state"].eq("FAIL"),
        _value=pd.to_numeric(observations["value"], errors="coerce").where(complete),
        _wasted=observations["epochs_run"] - (observations["best_epoch"] + 1),
    )
    table = _counts(frame, keys, mode)
    usable = frame.assign(value=frame["_value"])[[*keys, "unit", "value", "epochs_run"]]
    paired = paired_comparison(usable, keys, mode)
    table = table.join(paired.table, how="left")
    table = table.join(_acted(frame, keys), how="left")
    confounded = not paired.paired and _model_params_vary(observations, keys)
    table["note"] = _row_notes(table, keys, paired.paired, confounded)
    table = table.sort_values("value_mean", ascending=(mode != "max"), na_position="last")[SETTINGS_COLUMNS]
    return SettingsComparison(table, _study_notes(table, keys, paired.paired, confounded, confirm))


def _counts(frame: pd.DataFrame, keys: list[str], mode: str) -> pd.DataFrame:
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
    return table


def _acted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per cell, the trials where EarlyStopping fired and where ReduceLROnPlateau cut the rate."""
    grouped = frame.groupby(keys, dropna=False)
    return pd.DataFrame({name: grouped[name].sum().astype("int64") for name in ACTED_COLUMNS})


def _model_params_vary(observations: pd.DataFrame, keys: list[str]) -> bool:
    """Whether trials differ in model params: a setting then shares its cell with the params sampled beside it."""
    model = [c for c in observations.columns if c.startswith(CALLBACK_PREFIX) and c not in keys]
    return any(observations[c].nunique(dropna=True) > 1 for c in model)


def _row_notes(table: pd.DataFrame, keys: list[str], paired: bool, confounded: bool) -> list[str]:
    searched = {key.removeprefix(CALLBACK_PREFIX).split(".")[0] for key in keys}
    notes = []
    for row in table.itertuples():
        parts = []
        if confounded:
            parts.append("confounded: sampled beside the model params")
        elif not paired:
            parts.append("unpaired: no seed shared with another cell")
        if row.complete < 2:
            parts.append(f"{row.complete} COMPLETE trial(s): not a mean")
        acted = {EARLY_STOPPING: row.early_stopping_acted, REDUCE_LR: row.reduce_lr_acted}
        for callback, count in acted.items():
            if callback in searched and count < MIN_ACTED:
                verb = "fired" if callback == EARLY_STOPPING else "cut the learning rate"
                parts.append(f"underpowered: {callback} {verb} in {count} trial(s)")
        notes.append("; ".join(parts))
    return notes


def _study_notes(
    table: pd.DataFrame, keys: list[str], paired: bool, confounded: bool, confirm: bool
) -> tuple[str, ...]:
    if keys == ["settings"]:
        return ("No callback setting was searched: one row for every trial.",)
    notes = []
    if paired:
        notes.append(
            "Paired: the cells share models and seeds. diff_vs_best is each cell's mean difference to the best "
            "cell over their shared seeds, with a paired t-test; distinguishable means p < 0.05 after Holm's "
            "correction for comparing every cell with the best."
        )
    elif confounded:
        notes.append(
            "Confounded: the settings were sampled beside the model params, so a setting's mean mixes in the "
            f"models it happened to run with. No confidence interval or test is given; {CONFIRM_HINT}."
        )
    else:
        notes.append(
            "Unpaired: no two cells share a seed (set the Study's seed= and repeats=), so no confidence interval "
            "or paired test is given."
        )
    weak = table["note"].str.contains("underpowered|not a mean", regex=True).sum()
    if weak:
        advice = "add repeats" if confirm else CONFIRM_HINT
        notes.append(
            f"{weak} of {len(table)} settings are underpowered: their setting acted in fewer than {MIN_ACTED} "
            f"trials, or they hold fewer than 2 COMPLETE trials, so they say little about it; {advice}."
        )
    return tuple(notes)
