"""Learning curves: the monitored value per epoch, one line per trial."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sweeper.reports.figures._style import message_figure, new_figure, plain, state_color, state_handles

PRUNED_LABEL = "pruned here"
BEST_EPOCH_LABEL = "best epoch"


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
        return message_figure(f"no TensorBoard data for {monitor}")
    fig, ax = new_figure()
    pruned_points, best_points = _plot_curves(ax, trials, epochs, monitor)
    if best_points:
        x, y, colors = zip(*best_points, strict=True)
        ax.scatter(x, y, s=12, c=list(colors), alpha=0.8, edgecolors="none", zorder=3)
    if pruned_points:
        x, y = zip(*pruned_points, strict=True)
        ax.plot(x, y, linestyle="none", marker="x", markersize=7, color="black", label=PRUNED_LABEL, zorder=4)
    handles = state_handles(trials, plotted=set(epochs["trial"]), line=True)
    ax.legend(handles=handles + _marker_handles(bool(pruned_points), bool(best_points)), fontsize=8, loc="best")
    ax.set_xlabel("epoch (0-based)")
    ax.set_ylabel(plain(monitor))
    ax.set_title(f"Learning curves: {plain(monitor)}")
    return fig


def _plot_curves(ax: Axes, trials: pd.DataFrame, epochs: pd.DataFrame, monitor: str) -> tuple[list, list]:
    """Draws one line per trial; returns the pruned trials' last points and the best epochs' points."""
    states = trials.set_index("trial")["state"].to_dict()
    best_epochs = trials.set_index("trial")["best_epoch"].to_dict()
    pruned_points: list[tuple[float, float]] = []
    best_points: list[tuple[float, float, str]] = []
    for trial, curve in epochs.dropna(subset=[monitor]).sort_values("epoch").groupby("trial"):
        state = states.get(trial, "UNKNOWN")
        color = state_color(state)
        ax.plot(curve["epoch"], curve[monitor], color=color, linewidth=1.0, alpha=0.7)
        if state == "PRUNED":  # the pruner cut it after its last logged epoch
            pruned_points.append((curve["epoch"].iloc[-1], curve[monitor].iloc[-1]))
        best = curve[curve["epoch"] == best_epochs.get(trial)]
        if not best.empty:
            best_points.append((best["epoch"].iloc[0], best[monitor].iloc[0], color))
    return pruned_points, best_points


def _marker_handles(pruned: bool, best: bool) -> list[Line2D]:
    handles = []
    if pruned:
        handles.append(Line2D([], [], color="black", marker="x", linestyle="none", label=PRUNED_LABEL))
    if best:
        handles.append(Line2D([], [], color="gray", marker="o", markersize=4, linestyle="none", label=BEST_EPOCH_LABEL))
    return handles
