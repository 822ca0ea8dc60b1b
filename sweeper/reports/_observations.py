"""What the settings table compares: one row per (trial, callback setting) result, with its pairing unit.

Most rows are trials as they ran. A confirm run trains EarlyStopping at its most
patient setting and reads the others from the replay: each of its trials then stands
for one row per replayed setting, exact, as if that setting had run.
"""

from __future__ import annotations

import json

import pandas as pd

from sweeper.reports._replay import SETTING_COLUMNS

CALLBACK_PREFIX = "params_"
EARLY_STOPPING = "EarlyStopping"
REDUCE_LR = "ReduceLROnPlateau"


def observations_frame(
    trials: pd.DataFrame,
    keys: list[str],
    own_replay: pd.DataFrame,
    recorded: pd.DataFrame,
    replayed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per result the settings table counts, each with its pairing unit and what acted in it.

    Args:
        trials: The trials table.
        keys: Its ``params_<Callback>.<param>`` columns: the cells.
        own_replay: The replay of every patience over the trials (``replay.csv``), which
            says whether each trial's own EarlyStopping fired.
        recorded: Each trial's EarlyStopping as it ran (``Report.early_stopping``).
        replayed: The replay of the settings a confirm run reads from it, or ``None``
            for a study that trained every setting it compares. Defaults to ``None``.

    Returns:
        The trials' columns ``trial``, ``state``, ``value``, ``epochs_run``,
        ``best_epoch``, ``keys``, the model params and ``seed``, then ``unit`` (the
        model params and seed a trial shares with the other cells, NaN without a
        seed), ``replayed``, ``early_stopping_acted`` and ``reduce_lr_acted``.
    """
    rows = trials.assign(
        seed=trials.get("seed"),
        unit=_units(trials, keys),
        replayed=False,
        early_stopping_acted=_early_stopping_fired(trials, own_replay, recorded),
        reduce_lr_acted=_lr_reduced(trials),
    )
    model = [c for c in trials.columns if c.startswith(CALLBACK_PREFIX) and c not in keys]
    rows = rows[
        ["trial", "state", "value", "epochs_run", "best_epoch", *keys, *model, "seed", "unit", "replayed"] + _ACTED
    ]
    if replayed is None or replayed.empty:
        return rows.reset_index(drop=True)
    return _with_replayed(rows, replayed)


_ACTED = ["early_stopping_acted", "reduce_lr_acted"]


def _units(trials: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Each trial's model params and seed as one string; NaN where the seed is unknown."""
    model = [c for c in trials.columns if c.startswith(CALLBACK_PREFIX) and c not in keys]

    def unit(row: pd.Series) -> str | float:
        if pd.isna(row.get("seed")):
            return float("nan")
        params = {c[len(CALLBACK_PREFIX) :]: _plain(row[c]) for c in model if not _missing(row[c])}
        return json.dumps({"params": params, "seed": int(row["seed"])}, sort_keys=True)

    if trials.empty:
        return pd.Series([], dtype=object)
    return trials.apply(unit, axis=1).astype(object)


def _lr_reduced(trials: pd.DataFrame) -> pd.Series:
    """Whether anything (ReduceLROnPlateau, in practice) cut each trial's learning rate."""
    if "lr_reductions" not in trials.columns:
        return pd.Series(False, index=trials.index)
    return pd.to_numeric(trials["lr_reductions"], errors="coerce").fillna(0).gt(0)


def _early_stopping_fired(trials: pd.DataFrame, own_replay: pd.DataFrame, recorded: pd.DataFrame) -> pd.Series:
    """Whether each trial's own EarlyStopping fired: exact from the replay, even on the last epoch."""
    if own_replay.empty or recorded.empty:
        return pd.Series(False, index=trials.index)
    own = recorded[["trial", *SETTING_COLUMNS]].astype({"baseline": "float64"})
    merged = own_replay.merge(own, on=[*SETTING_COLUMNS, "trial"], how="inner")
    fired = set(merged.loc[merged["stop_epoch"].notna(), "trial"])
    return trials["trial"].isin(fired)


def _with_replayed(rows: pd.DataFrame, replayed: pd.DataFrame) -> pd.DataFrame:
    """Each replayed trial as one row per replayed setting, exact rows only; the others as they ran."""
    exact = replayed[~replayed["censored"].astype(bool)]
    varied = [name for name in SETTING_COLUMNS if exact[name].nunique(dropna=False) > 1 or _searched(rows, name)]
    base = rows.drop(columns=[f"{CALLBACK_PREFIX}{EARLY_STOPPING}.{name}" for name in varied], errors="ignore")
    expanded = base.merge(
        exact[["trial", *varied, "epochs_run", "best_epoch", "value", "stop_epoch"]],
        on="trial",
        suffixes=("_trained", ""),
    )
    expanded = expanded.rename(columns={name: f"{CALLBACK_PREFIX}{EARLY_STOPPING}.{name}" for name in varied})
    expanded = expanded.assign(replayed=True, early_stopping_acted=expanded["stop_epoch"].notna())
    untouched = rows[~rows["trial"].isin(exact["trial"])]
    return pd.concat([expanded[rows.columns], untouched], ignore_index=True).sort_values(["trial"], kind="stable")


def _searched(rows: pd.DataFrame, name: str) -> bool:
    return f"{CALLBACK_PREFIX}{EARLY_STOPPING}.{name}" in rows.columns


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
