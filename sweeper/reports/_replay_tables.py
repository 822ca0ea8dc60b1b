"""``replay.csv`` and ``replay_summary.csv``: what other EarlyStopping settings would have done to each trial.

Each trial records the EarlyStopping it ran (``early_stopping``, as its Keras callback
resolved it) and the study's ``max_epochs``. From its logged curve, a setting that stops
no later than the trial did is replayed exactly (``_replay.py``); one that would run
longer is censored: its value is unknown and it runs at least the trial's epochs. A
trial that ran all ``max_epochs`` is the exception: "does not stop" is then exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import optuna
import pandas as pd

from sweeper.callbacks._early_stopping import EARLY_STOPPING_ATTR
from sweeper.reports._replay import (
    NO_STOP,
    RECORDED_COLUMNS,
    REPLAY_COLUMNS,
    SETTING_COLUMNS,
    SUMMARY_COLUMNS,
    Settings,
    running_best,
    running_best_epoch,
    stop_epochs,
)
from sweeper.trial._outcome import MAX_EPOCHS_ATTR, StopReason

if TYPE_CHECKING:
    from sweeper.reports._report import Report

Grid = Any  # None (each trial's own), one value, or an iterable of values


class EarlyStoppingReplay(NamedTuple):
    """What the replayed EarlyStopping settings would have done.

    Args:
        table: One row per (trial, setting): ``replay.csv``'s columns.
        summary: One row per setting: ``replay_summary.csv``'s columns.
    """

    table: pd.DataFrame
    summary: pd.DataFrame


def replay_early_stopping(
    report: Report,
    patience: Grid = None,
    min_delta: Grid = None,
    baseline: Grid = None,
    start_from_epoch: Grid = None,
) -> EarlyStoppingReplay:
    """Replays EarlyStopping settings over every trial's logged curve, exactly as Keras 3 would run them.

    Each argument is ``None`` (each trial's own value), one value, or an iterable of
    values; the settings replayed are every combination. For ``baseline``, a ``None``
    inside a list means no baseline.

    Args:
        report: The study's report (``sweeper.load_report``).
        patience: Defaults to every patience from 0 to the largest any trial used.
        min_delta: Defaults to each trial's own.
        baseline: Defaults to each trial's own.
        start_from_epoch: Defaults to each trial's own.

    Returns:
        The replay table and its summary; both empty when no trial recorded an
        EarlyStopping (no ``sweeper.EarlyStopping`` in the study, or a study that ran
        before sweeper recorded it) or none has a logged curve.

    Example:
        ``table, summary = sw.replay_early_stopping(sw.load_report("digits"), patience=range(21))``
    """
    grid = {"patience": patience, "min_delta": min_delta, "baseline": baseline, "start_from_epoch": start_from_epoch}
    return replay_tables(report.trials, report.epochs, report.early_stopping, report.monitor, report.mode, grid)


def recorded_settings(study: optuna.Study) -> pd.DataFrame:
    """Each trial's EarlyStopping as it ran, from its ``early_stopping`` and ``max_epochs`` user attrs.

    Returns:
        One row per trial that recorded them, with :data:`RECORDED_COLUMNS`.
    """
    rows = []
    for trial in study.get_trials(deepcopy=False):
        settings = trial.user_attrs.get(EARLY_STOPPING_ATTR)
        if isinstance(settings, dict):
            rows.append({**settings, "trial": trial.number, "max_epochs": trial.user_attrs.get(MAX_EPOCHS_ATTR)})
    return pd.DataFrame(rows, columns=RECORDED_COLUMNS)


def empty_replay() -> EarlyStoppingReplay:
    """The replay of a study with nothing to replay."""
    return EarlyStoppingReplay(pd.DataFrame(columns=REPLAY_COLUMNS), pd.DataFrame(columns=SUMMARY_COLUMNS))


def replay_tables(
    trials: pd.DataFrame,
    epochs: pd.DataFrame,
    recorded: pd.DataFrame,
    monitor: str,
    mode: str,
    grid: dict[str, Grid] | None = None,
) -> EarlyStoppingReplay:
    """The replay of ``grid`` (by default: every patience up to the largest used) over the trials.

    Args:
        trials: The trials table: ``value``, ``epochs_run`` and ``stop_reason`` per trial.
        epochs: The epochs table: the EarlyStopping monitors' and the study monitor's curves.
        recorded: Each trial's EarlyStopping (:func:`recorded_settings`).
        monitor: The study's monitor, whose best value up to the stop is a trial's value.
        mode: The study's ``"max"`` or ``"min"``.
        grid: The values of :data:`SETTING_COLUMNS` to replay, as :func:`replay_early_stopping` takes them.

    Returns:
        The replay table and its summary.
    """
    replayable = _replayable(trials, epochs, recorded, monitor)
    if replayable.empty:
        return empty_replay()
    pairs = _pairs(replayable, grid or {})
    positions = _Positions(epochs, replayable)
    lengths = positions.lengths()
    curves = positions.dense(replayable["monitor"].to_numpy(dtype=object))
    stop = stop_epochs(curves, lengths, _settings(pairs))
    objective = _objective(positions, replayable, monitor)
    best = running_best(objective, maximize=mode == "max")
    best_epoch = running_best_epoch(objective, maximize=mode == "max")
    row = pairs["_row"].to_numpy()
    length = lengths[row]
    stopped = stop != NO_STOP
    ran_to_max = (pairs["_stop_reason"].eq(StopReason.MAX_EPOCHS.value) & (length >= pairs["_max_epochs"])).to_numpy()
    exact = stopped | ran_to_max
    end = np.where(stopped, stop, np.maximum(length - 1, 0))
    value = np.where(exact, best[row, end], np.nan)
    best_at_end = best_epoch[row, end]
    epochs_run = np.where(stopped, stop + 1, length)
    own_epochs = pairs["_epochs_run"].fillna(pd.Series(length, index=pairs.index)).to_numpy(np.int64)
    index = pairs.index
    table = pairs[["trial", *SETTING_COLUMNS]].assign(
        stop_epoch=pd.Series(stop, index=index, dtype="Int64").where(stopped),
        epochs_run=epochs_run,
        best_epoch=pd.Series(best_at_end, index=index, dtype="Int64").where(exact & (best_at_end >= 0)),
        value=value,
        value_change=value - pairs["_value"].to_numpy(np.float64),
        epochs_saved=pd.Series(own_epochs - epochs_run, index=index, dtype="Int64").where(exact),
        censored=~exact,
    )
    table = table.sort_values(["trial", *SETTING_COLUMNS], ignore_index=True)[REPLAY_COLUMNS]
    return EarlyStoppingReplay(table, summarise(table))


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """One row per setting: trials replayed exactly and censored, the value change and the epochs saved.

    The value and epoch statistics cover the exact rows only; ``unchanged_share`` is the
    share of those with a value whose value equals the trial's own.
    """
    if table.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    exact = ~table["censored"].astype(bool)
    change = table["value_change"].astype("float64")
    frame = table.assign(
        _exact=exact,
        _censored=~exact,
        _unchanged=change.eq(0).astype("float64").where(exact & change.notna()),
        _saved=table["epochs_saved"].astype("float64"),
    )
    grouped = frame.groupby(SETTING_COLUMNS, dropna=False, sort=True)
    summary = pd.DataFrame(
        {
            "trials": grouped["_exact"].sum(),
            "censored": grouped["_censored"].sum(),
            "value_change_mean": grouped["value_change"].mean(),
            "unchanged_share": grouped["_unchanged"].mean(),
            "epochs_saved_total": grouped["_saved"].sum(min_count=1),
            "epochs_saved_mean": grouped["_saved"].mean(),
        }
    )
    return summary.reset_index()[SUMMARY_COLUMNS]


def _replayable(trials: pd.DataFrame, epochs: pd.DataFrame, recorded: pd.DataFrame, monitor: str) -> pd.DataFrame:
    """The trials with a recorded EarlyStopping, a resolved mode and a logged curve of its monitor."""
    if recorded.empty or epochs.empty or monitor not in epochs.columns:
        return pd.DataFrame()
    logged = set(epochs["trial"].unique())
    own = trials[["trial", "value", "epochs_run", "stop_reason"]].rename(
        columns={name: f"_{name}" for name in ("value", "epochs_run", "stop_reason")}
    )
    frame = recorded.merge(own, on="trial", how="inner").rename(columns={"max_epochs": "_max_epochs"})
    keep = frame["mode"].isin(["min", "max"]) & frame["monitor"].isin(epochs.columns) & frame["trial"].isin(logged)
    frame = frame[keep].reset_index(drop=True)
    frame["_value"] = pd.to_numeric(frame["_value"], errors="coerce").astype("float64")
    frame["_epochs_run"] = pd.to_numeric(frame["_epochs_run"], errors="coerce").astype("float64")
    frame["_max_epochs"] = pd.to_numeric(frame["_max_epochs"], errors="coerce").astype("float64")
    frame["baseline"] = pd.to_numeric(frame["baseline"], errors="coerce").astype("float64")
    frame["_row"] = np.arange(len(frame))
    return frame


def _pairs(replayable: pd.DataFrame, grid: dict[str, Grid]) -> pd.DataFrame:
    """One row per (trial, setting): the grid's values crossed with each trial's own for the rest."""
    values = {name: _values(name, given) for name, given in grid.items() if given is not None}
    if "patience" not in values:
        values["patience"] = list(range(int(replayable["patience"].max()) + 1))
    combos = pd.DataFrame(list(itertools.product(*values.values())), columns=list(values))
    pairs = replayable.drop(columns=list(values)).merge(combos, how="cross")
    types = {"patience": "int64", "start_from_epoch": "int64", "min_delta": "float64", "baseline": "float64"}
    return pairs.astype(types)


def _values(name: str, given: Grid) -> list[float]:
    """A grid argument's values, checked; a ``None`` baseline becomes NaN (no baseline)."""
    items = list(given) if isinstance(given, Iterable) and not isinstance(given, str) else [given]
    whole = name in ("patience", "start_from_epoch")
    for item in items:
        if name == "baseline" and item is None:
            continue
        number = isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, bool)
        if not number or (whole and item != int(item)) or (name != "baseline" and item < 0):
            kind = "integers >= 0" if whole else "numbers or None" if name == "baseline" else "numbers >= 0"
            raise ValueError(f"{name} values must be {kind}, not {item!r}")
    return [np.nan if item is None else item for item in items]


def _settings(pairs: pd.DataFrame) -> Settings:
    return Settings.of(
        curve=pairs["_row"].to_numpy(),
        patience=pairs["patience"].to_numpy(),
        min_delta=pairs["min_delta"].to_numpy(),
        baseline=pairs["baseline"].to_numpy(),
        start_from_epoch=pairs["start_from_epoch"].to_numpy(),
        maximize=pairs["mode"].eq("max").to_numpy(),
    )


class _Positions:
    """Where each logged epoch of the replayed trials goes in a (trial, epoch) array."""

    def __init__(self, epochs: pd.DataFrame, replayable: pd.DataFrame) -> None:
        row_of_trial = pd.Series(replayable["_row"].to_numpy(), index=replayable["trial"].to_numpy())
        rows = epochs["trial"].map(row_of_trial)
        self.logged = epochs[rows.notna().to_numpy()]
        self.rows = rows.dropna().to_numpy(np.int64)
        self.columns = self.logged["epoch"].to_numpy(np.int64)
        self.shape = (len(replayable), int(self.columns.max()) + 1 if len(self.columns) else 0)

    def dense(self, column_of_row: np.ndarray) -> np.ndarray:
        """Each trial's own column per epoch, NaN where nothing was logged."""
        dense = np.full(self.shape, np.nan)
        for name in np.unique(column_of_row):
            mine = column_of_row[self.rows] == name
            values = pd.to_numeric(self.logged[name], errors="coerce").to_numpy(np.float64)
            dense[self.rows[mine], self.columns[mine]] = values[mine]
        return dense

    def lengths(self) -> np.ndarray:
        """How many epochs from 0 on each trial logged without a gap."""
        present = np.zeros((self.shape[0], self.shape[1] + 1), dtype=bool)
        present[self.rows, self.columns] = True
        return np.argmin(present, axis=1)


def _objective(positions: _Positions, replayable: pd.DataFrame, monitor: str) -> np.ndarray:
    """The study's monitor per epoch where it counts toward the trial's value, NaN elsewhere.

    As in the TrialRecorder, a non-finite value does not count, nor does a diverged
    trial's last epoch (the one it diverged in).
    """
    values = positions.dense(np.full(len(replayable), monitor, dtype=object))
    values[~np.isfinite(values)] = np.nan
    diverged = replayable["_stop_reason"].eq(StopReason.DIVERGED.value).to_numpy()
    last = replayable["_epochs_run"].fillna(0).to_numpy(np.int64) - 1
    for row in np.flatnonzero(diverged & (last >= 0) & (last < values.shape[1])):
        values[row, last[row]] = np.nan
    return values
