"""The report's figures: pure functions from the report tables to matplotlib Figures.

Figures are built as :class:`matplotlib.figure.Figure` objects, never through
``pyplot``, so rendering a report touches no global backend or figure state.
"""

from __future__ import annotations

from itertools import cycle

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D

from sweeper.reports._settings import callback_setting_columns

FIGSIZE = (7.0, 4.0)
DPI = 100
STATE_COLORS = {
    "COMPLETE": "tab:blue",
    "PRUNED": "tab:orange",
    "FAIL": "tab:red",
    "RUNNING": "tab:gray",
}
OTHER_COLOR = "tab:purple"
PATIENCE = "params_EarlyStopping.patience"
FACTOR = "params_ReduceLROnPlateau.factor"
PRUNED_LABEL = "pruned here"
BEST_EPOCH_LABEL = "best epoch"
SETTING_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def learning_curves(trials: pd.DataFrame, epochs: pd.DataFrame, monitor: str) -> Figure:
    """The monitored value per epoch, one line per trial, coloured by state.

    Pruned trials get an ``x`` at their last epoch (where the pruner cut them);
    every trial's best epoch gets a small dot.

    Args:
        trials: The trials table (``trial``, ``state``, ``best_epoch``).
        epochs: The epochs table (``trial``, ``epoch``, one column per scalar).
        monitor: The monitored scalar, e.g. ``"val_accuracy"``.

    Returns:
        The figure; a text-only one when ``epochs`` has no ``monitor`` data.
    """
    if monitor not in epochs.columns or epochs[monitor].dropna().empty:
        return _message_figure(f"no TensorBoard data for {monitor}")
    fig, ax = _new_figure()
    pruned_points, best_points = _plot_curves(ax, trials, epochs, monitor)
    if best_points:
        x, y, colors = zip(*best_points)
        ax.scatter(x, y, s=12, c=list(colors), alpha=0.8, edgecolors="none", zorder=3)
    if pruned_points:
        x, y = zip(*pruned_points)
        ax.plot(x, y, linestyle="none", marker="x", markersize=7, color="black", label=PRUNED_LABEL, zorder=4)
    handles = _state_handles(trials, plotted=set(epochs["trial"]), line=True)
    ax.legend(handles=handles + _marker_handles(bool(pruned_points), bool(best_points)), fontsize=8, loc="best")
    ax.set_xlabel("epoch (0-based)")
    ax.set_ylabel(_plain(monitor))
    ax.set_title(f"Learning curves: {_plain(monitor)}")
    return fig


def patience_factor_heatmap(trials: pd.DataFrame, mode: str, monitor: str = "value") -> Figure | None:
    """Mean value of COMPLETE trials over two callback settings, as a heat map.

    The axes are EarlyStopping ``patience`` (rows) and ReduceLROnPlateau
    ``factor`` (columns) when both were searched; otherwise the two callback
    params of the study, if it searched exactly two.

    Args:
        trials: The trials table.
        mode: ``"max"`` or ``"min"``; the colour scale runs so that better is brighter.
        monitor: The monitored quantity's name, for the colour bar.

    Returns:
        The figure, or ``None`` when no such pair was searched or no trial completed.
    """
    axes = _heatmap_axes(trials)
    if axes is None:
        return None
    rows, columns = axes
    searched = trials.dropna(subset=[rows, columns])
    complete = searched[searched["state"].eq("COMPLETE")]
    complete = complete.assign(value=pd.to_numeric(complete["value"], errors="coerce")).dropna(subset=["value"])
    if complete.empty:
        return None
    row_values, column_values = _sorted_unique(searched[rows]), _sorted_unique(searched[columns])
    grouped = complete.groupby([rows, columns])["value"]
    means = grouped.mean().unstack().reindex(index=row_values, columns=column_values)
    counts = grouped.size().unstack().reindex(index=row_values, columns=column_values).fillna(0).astype(int)
    tried = searched.groupby([rows, columns]).size().unstack().reindex(index=row_values, columns=column_values)
    fig, ax = _new_figure()
    cmap = "viridis" if mode == "max" else "viridis_r"
    image = ax.imshow(np.ma.masked_invalid(means.to_numpy(dtype=float)), cmap=cmap, aspect="auto")
    ax.set_facecolor("#dddddd")  # cells without a COMPLETE trial
    _annotate_cells(ax, image, means, counts, tried.fillna(0).astype(int))
    ax.set_xticks(range(len(column_values)), [_plain(v) for v in column_values])
    ax.set_yticks(range(len(row_values)), [_plain(v) for v in row_values])
    ax.set_xlabel(_plain(_param_name(columns)))
    ax.set_ylabel(_plain(_param_name(rows)))
    better = "higher" if mode == "max" else "lower"
    fig.colorbar(image, ax=ax, label=f"mean {_plain(monitor)} ({better} is better)")
    ax.set_title("Mean value of COMPLETE trials per setting")
    return fig


def value_vs_epochs(trials: pd.DataFrame, mode: str, monitor: str) -> Figure | None:
    """Each trial's value against the epochs it ran (its cost), coloured by state.

    When callback settings were searched, each setting gets its own marker and a
    large hollow marker at the mean of its COMPLETE trials, labelled with the
    setting: one that sits further right but no higher bought nothing with its
    extra epochs.

    Args:
        trials: The trials table.
        mode: ``"max"`` or ``"min"``, to ring the best trial.
        monitor: The monitored quantity's name, for the axis.

    Returns:
        The figure, or ``None`` when no trial has both a value and an epoch count.
    """
    points = trials.assign(
        value=pd.to_numeric(trials["value"], errors="coerce"),
        epochs_run=pd.to_numeric(trials["epochs_run"], errors="coerce"),
    ).dropna(subset=["value", "epochs_run"])
    if points.empty:
        return None
    fig, ax = _new_figure()
    keys = [key for key in callback_setting_columns(points) if points[key].notna().any()]
    markers = _setting_markers(points, keys)
    for (state, marker), group in points.groupby([points["state"], markers], sort=False):
        ax.scatter(group["epochs_run"], group["value"], c=_state_color(state), marker=marker, s=30, alpha=0.75,
                   edgecolors="none")
    if keys:
        _plot_setting_means(ax, points, keys, markers)
    _ring_best(ax, points, mode)
    ax.margins(x=0.15, y=0.1)  # room for the labels at the edges
    handles = _state_handles(points) + (_setting_handles(points, keys, markers) if keys else [])
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    better = "higher" if mode == "max" else "lower"
    ax.set_xlabel("epochs run")
    ax.set_ylabel(f"{_plain(monitor)} ({better} is better)")
    ax.set_title("Value against cost")
    return fig


def importances_bar(importances: dict[str, float]) -> Figure | None:
    """Optuna's parameter importances as horizontal bars, the largest on top.

    Args:
        importances: Importance by param name.

    Returns:
        The figure, or ``None`` when ``importances`` is empty.
    """
    if not importances:
        return None
    ranked = sorted(importances.items(), key=lambda item: item[1])
    fig, ax = _new_figure(height=max(1.5, 0.35 * len(ranked) + 1.0))
    ax.barh([_plain(name) for name, _ in ranked], [value for _, value in ranked], color="tab:blue")
    ax.set_xlabel("importance")
    ax.set_title("Parameter importances (Optuna)")
    ax.tick_params(axis="y", labelsize=8)
    return fig


def _plot_curves(ax: Axes, trials: pd.DataFrame, epochs: pd.DataFrame, monitor: str) -> tuple[list, list]:
    """Draws one line per trial; returns the pruned trials' last points and the best epochs' points."""
    states = trials.set_index("trial")["state"].to_dict()
    best_epochs = trials.set_index("trial")["best_epoch"].to_dict()
    pruned_points: list[tuple[float, float]] = []
    best_points: list[tuple[float, float, str]] = []
    for trial, curve in epochs.dropna(subset=[monitor]).sort_values("epoch").groupby("trial"):
        state = states.get(trial, "UNKNOWN")
        color = _state_color(state)
        ax.plot(curve["epoch"], curve[monitor], color=color, linewidth=1.0, alpha=0.7)
        if state == "PRUNED":  # the pruner cut it after its last logged epoch
            pruned_points.append((curve["epoch"].iloc[-1], curve[monitor].iloc[-1]))
        best = curve[curve["epoch"] == best_epochs.get(trial)]
        if not best.empty:
            best_points.append((best["epoch"].iloc[0], best[monitor].iloc[0], color))
    return pruned_points, best_points


def _new_figure(height: float = FIGSIZE[1]) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(FIGSIZE[0], height), dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


def _message_figure(message: str) -> Figure:
    fig = Figure(figsize=(FIGSIZE[0], 1.5), dpi=DPI)
    fig.text(0.5, 0.5, _plain(message), ha="center", va="center", fontsize=12, color="dimgray")
    return fig


def _plain(text: object) -> str:
    """``text`` as a string matplotlib will not read as mathtext."""
    return str(text).replace("$", r"\$")


def _state_color(state: str) -> str:
    return STATE_COLORS.get(state, OTHER_COLOR)


def _state_handles(trials: pd.DataFrame, plotted: set | None = None, line: bool = False) -> list[Line2D]:
    """One legend entry per state, with its count of trials (plotted ones only, if given)."""
    shown = trials if plotted is None else trials[trials["trial"].isin(plotted)]
    counts = shown["state"].value_counts()
    order = [s for s in STATE_COLORS if s in counts] + [s for s in counts.index if s not in STATE_COLORS]
    style = {"linestyle": "-"} if line else {"linestyle": "none", "marker": "o", "markersize": 5}
    return [Line2D([], [], color=_state_color(s), label=f"{s} ({counts[s]})", **style) for s in order]


def _marker_handles(pruned: bool, best: bool) -> list[Line2D]:
    handles = []
    if pruned:
        handles.append(Line2D([], [], color="black", marker="x", linestyle="none", label=PRUNED_LABEL))
    if best:
        handles.append(Line2D([], [], color="gray", marker="o", markersize=4, linestyle="none", label=BEST_EPOCH_LABEL))
    return handles


def _heatmap_axes(trials: pd.DataFrame) -> tuple[str, str] | None:
    """The (rows, columns) params of the heat map, or ``None``."""
    if PATIENCE in trials.columns and FACTOR in trials.columns:
        return PATIENCE, FACTOR
    searched = callback_setting_columns(trials)
    return (searched[0], searched[1]) if len(searched) == 2 else None


def _sorted_unique(values: pd.Series) -> list:
    return _sorted(values.dropna().unique())


def _sorted(values) -> list:
    try:
        return sorted(values)
    except TypeError:  # mixed types in a categorical param
        return sorted(values, key=str)


def _annotate_cells(ax: Axes, image: AxesImage, means: pd.DataFrame, counts: pd.DataFrame, tried: pd.DataFrame) -> None:
    """Writes each cell's mean and count; empty cells say whether anything ran there."""
    norm: Normalize = image.norm
    for i, row in enumerate(means.index):
        for j, column in enumerate(means.columns):
            mean, n, ran = means.loc[row, column], counts.loc[row, column], tried.loc[row, column]
            if pd.isna(mean):
                text = f"no COMPLETE\n({ran} tried)" if ran else "not tried"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="dimgray")
                continue
            # Dark text on the bright end of viridis, light text on the dark end.
            shade = image.cmap(norm(mean))
            luminance = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2]
            ax.text(j, i, f"{mean:.4g}\nn={n}", ha="center", va="center", fontsize=8,
                    color="black" if luminance > 0.5 else "white")


def _param_name(column: str) -> str:
    return column.removeprefix("params_")


def _short_name(column: str) -> str:
    """``params_ReduceLROnPlateau.factor`` -> ``RLROP.factor``: callbacks by their capitals."""
    callback, _, param = _param_name(column).partition(".")
    return f"{''.join(c for c in callback if c.isupper()) or callback}.{param}"


def _setting_label(setting: tuple) -> str:
    return " / ".join(_plain(value) for value in setting)


def _setting_of(points: pd.DataFrame, keys: list[str]) -> pd.Series:
    return pd.Series(list(points[keys].itertuples(index=False, name=None)), index=points.index)


def _setting_markers(points: pd.DataFrame, keys: list[str]) -> pd.Series:
    """A marker per trial: one per distinct setting, or circles when nothing was searched."""
    if not keys:
        return pd.Series("o", index=points.index)
    settings = _setting_of(points, keys)
    ordered = _sorted(settings.unique())
    by_setting = dict(zip(ordered, cycle(SETTING_MARKERS)))
    return settings.map(by_setting)


def _plot_setting_means(ax: Axes, points: pd.DataFrame, keys: list[str], markers: pd.Series) -> None:
    complete = points[points["state"].eq("COMPLETE")]
    if complete.empty:
        return
    settings = _setting_of(complete, keys)
    for setting, group in complete.groupby(settings, sort=False):
        x, y = group["epochs_run"].mean(), group["value"].mean()
        ax.scatter([x], [y], marker=markers[group.index[0]], s=140, facecolors="none", edgecolors="black",
                   linewidths=1.2, zorder=4)
        ax.annotate(_setting_label(setting), (x, y), xytext=(7, 5), textcoords="offset points", fontsize=7)


def _ring_best(ax: Axes, points: pd.DataFrame, mode: str) -> None:
    complete = points[points["state"].eq("COMPLETE")]
    if complete.empty:
        return
    best = complete.loc[complete["value"].idxmax() if mode == "max" else complete["value"].idxmin()]
    ax.scatter([best["epochs_run"]], [best["value"]], marker="*", s=160, c="gold", edgecolors="black",
               linewidths=0.8, zorder=5)
    ax.annotate(f"best #{int(best['trial'])}", (best["epochs_run"], best["value"]), xytext=(-10, -14),
                textcoords="offset points", fontsize=7, ha="right")


def _setting_handles(points: pd.DataFrame, keys: list[str], markers: pd.Series) -> list[Line2D]:
    marker_of = dict(zip(_setting_of(points, keys), markers))
    header = Line2D([], [], linestyle="none", label="setting:\n" + " /\n".join(_short_name(key) for key in keys))
    handles = [header] + [Line2D([], [], color="dimgray", marker=marker_of[setting], linestyle="none",
                                 label=_setting_label(setting)) for setting in _sorted(marker_of)]
    handles.append(Line2D([], [], color="black", marker="o", markerfacecolor="none", markersize=9, linestyle="none",
                          label="setting mean"))
    return handles
