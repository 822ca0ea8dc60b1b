"""Paired comparison of callback settings: each cell against the best one, unit for unit.

A unit is one model configuration trained with one seed. When several cells ran the
same units, comparing them unit for unit removes the variance the units share, so a
small but consistent difference can still be told apart from noise.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

PAIRED_COLUMNS = [
    "value_ci_low",
    "value_ci_high",
    "paired_trials",
    "diff_vs_best",
    "diff_ci_low",
    "diff_ci_high",
    "p_value",
    "distinguishable",
    "pareto",
]
_FLOAT_COLUMNS = ["value_ci_low", "value_ci_high", "diff_vs_best", "diff_ci_low", "diff_ci_high", "p_value"]
# Differences whose spread is below this fraction of their mean are constant up to rounding:
# scipy warns of catastrophic cancellation below 10 eps, so this margin keeps its warning out.
_CONSTANT_SPREAD = 100 * np.finfo(float).eps


class PairedComparison(NamedTuple):
    """What :func:`paired_comparison` returns.

    Attributes:
        table: One row per cell, indexed like ``observations.groupby(keys)``, columns ``PAIRED_COLUMNS``.
        paired: Whether at least two cells share at least two units.
        best: The best cell's key tuple, or ``None`` when the design is not paired.
    """

    table: pd.DataFrame
    paired: bool
    best: tuple | None


def paired_comparison(
    observations: pd.DataFrame, keys: list[str], mode: str, *, level: float = 0.95
) -> PairedComparison:
    """Compare every cell with the best one over the units they share.

    Rows with a non-finite value or no unit are ignored; a unit seen several times in one
    cell counts once, with its values and epochs averaged. The best cell has the best mean
    among cells with at least two units. Each other cell's differences from it, over their
    shared units, get a Student-t interval and a paired t-test, Holm-adjusted across cells.

    Args:
        observations: Columns ``keys`` (the cell), ``unit`` (pairing unit, NaN when unknown),
            ``value`` and ``epochs_run``.
        keys: The columns that identify a cell.
        mode: ``"max"`` or ``"min"``: which values are better.
        level: Confidence level of the intervals; ``1 - level`` is the significance threshold.
            Defaults to ``0.95``.

    Returns:
        The table (one row per cell, sorted by key, columns ``PAIRED_COLUMNS``), whether the
        design is paired, and the best cell's key tuple. When it is not paired, every column
        is NA and ``best`` is ``None``.

    Raises:
        ValueError: If ``mode`` is neither ``"max"`` nor ``"min"``, or ``level`` is not in (0, 1).
    """
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', but got {mode=}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, but got {level=}.")
    # dropna=False: a cell whose setting is missing is still a cell, as in settings.csv.
    grouped = observations.groupby(keys, dropna=False)
    index = grouped.size().index
    values, epochs = _per_unit(observations, grouped.ngroup(), len(index))
    present = values.notna().to_numpy()
    shared = present.astype(int) @ present.T.astype(int)
    np.fill_diagonal(shared, 0)
    if not (shared >= 2).any():
        return PairedComparison(_table(index, {}), paired=False, best=None)

    counts = present.sum(axis=1)
    means = values.mean(axis=1)
    eligible = means.where(counts >= 2)
    best = int(eligible.idxmax() if mode == "max" else eligible.idxmin())
    columns = {name: np.full(len(index), np.nan) for name in _FLOAT_COLUMNS}
    trials = [pd.NA] * len(index)
    grid = values.to_numpy()
    for cell in np.flatnonzero(counts):
        columns["value_ci_low"][cell], columns["value_ci_high"][cell] = _t_interval(grid[cell, present[cell]], level)
        both = present[cell] & present[best]
        trials[cell] = int(both.sum())
        if not both.any():
            continue
        diffs = grid[cell, both] - grid[best, both]
        columns["diff_vs_best"][cell] = diffs.mean()
        columns["diff_ci_low"][cell], columns["diff_ci_high"][cell] = _t_interval(diffs, level)
        if cell != best and len(diffs) >= 2:
            columns["p_value"][cell] = _paired_p(grid[cell, both], grid[best, both])

    columns["paired_trials"] = trials
    columns["distinguishable"] = _distinguishable(columns["p_value"], best, 1 - level)
    columns["pareto"] = _pareto(means.to_numpy(), epochs.mean(axis=1).to_numpy(), mode)
    return PairedComparison(_table(index, columns), paired=True, best=_key(index[best]))


def _key(label: object) -> tuple:
    """A cell's index label as a tuple of plain Python values, one per key."""
    parts = label if isinstance(label, tuple) else (label,)
    return tuple(part.item() if isinstance(part, np.generic) else part for part in parts)


def _per_unit(observations: pd.DataFrame, cell: pd.Series, n_cells: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Values and epochs as cell-by-unit grids, duplicates averaged; unusable rows dropped."""
    value = pd.to_numeric(observations["value"], errors="coerce")
    usable = np.isfinite(value) & observations["unit"].notna()
    frame = pd.DataFrame(
        {
            "cell": cell,
            "unit": observations["unit"],
            "value": value,
            "epochs": pd.to_numeric(observations["epochs_run"], errors="coerce"),
        }
    )[usable]
    cells = pd.RangeIndex(n_cells)
    if frame.empty:
        return pd.DataFrame(index=cells, dtype=float), pd.DataFrame(index=cells, dtype=float)
    means = frame.groupby(["cell", "unit"])[["value", "epochs"]].mean()
    return means["value"].unstack("unit").reindex(cells), means["epochs"].unstack("unit").reindex(cells)


def _t_interval(sample: np.ndarray, level: float) -> tuple[float, float]:
    """Student-t interval for the mean of ``sample``; NaN with fewer than two points."""
    n = len(sample)
    if n < 2:
        return math.nan, math.nan
    from scipy import stats  # 0.3 s of import: only once a report compares paired cells

    half = stats.t.ppf((1 + level) / 2, n - 1) * sample.std(ddof=1) / math.sqrt(n)
    return sample.mean() - half, sample.mean() + half


def _paired_p(cell: np.ndarray, best: np.ndarray) -> float:
    """Two-sided paired t-test p-value, with the constant-difference limits taken directly."""
    diffs = cell - best
    mean = diffs.mean()
    if np.abs(diffs - mean).max() <= _CONSTANT_SPREAD * abs(mean):
        # Zero spread makes t 0/0 or ±inf and scipy warns; the limits are no evidence and certainty.
        return 1.0 if not diffs.any() else 0.0
    from scipy import stats

    return float(stats.ttest_rel(cell, best).pvalue)


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values, capped at 1."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p_values[order]))
    return adjusted


def _distinguishable(p_values: np.ndarray, best: int, alpha: float) -> pd.arrays.BooleanArray:
    """Holm-adjusted p below ``alpha``; False for the best cell, NA where there is no p-value."""
    result = pd.array([pd.NA] * len(p_values), dtype="boolean")
    tested = np.flatnonzero(np.isfinite(p_values))
    result[tested] = _holm(p_values[tested]) < alpha
    result[best] = False
    return result


def _pareto(value: np.ndarray, epochs: np.ndarray, mode: str) -> pd.arrays.BooleanArray:
    """Whether each cell is on the value/epochs front; NA where either mean is missing."""
    result = pd.array([pd.NA] * len(value), dtype="boolean")
    placed = np.flatnonzero(np.isfinite(value) & np.isfinite(epochs))
    # Both coordinates as costs, so "better" is "smaller" on each.
    costs = np.column_stack([-value if mode == "max" else value, epochs])[placed]
    for row, cell in enumerate(placed):
        dominated = (costs <= costs[row]).all(axis=1) & (costs < costs[row]).any(axis=1)
        result[cell] = not dominated.any()
    return result


def _table(index: pd.Index, columns: dict) -> pd.DataFrame:
    """The table with ``PAIRED_COLUMNS`` and their dtypes; columns not given are all NA."""
    n = len(index)
    data = {name: np.asarray(columns.get(name, np.full(n, np.nan)), dtype=float) for name in _FLOAT_COLUMNS}
    data["paired_trials"] = pd.array(columns.get("paired_trials", [pd.NA] * n), dtype="Int64")
    data["distinguishable"] = pd.array(columns.get("distinguishable", [pd.NA] * n), dtype="boolean")
    data["pareto"] = pd.array(columns.get("pareto", [pd.NA] * n), dtype="boolean")
    return pd.DataFrame(data, index=index)[PAIRED_COLUMNS]
