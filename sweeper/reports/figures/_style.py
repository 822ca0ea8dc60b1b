"""The figures' shared style: figure size, state colours, legend handles and label helpers.

Figures are built as :class:`matplotlib.figure.Figure` objects, never through
``pyplot``, so rendering a report touches no global backend or figure state.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

FIGSIZE = (7.0, 4.0)
DPI = 100
STATE_COLORS = {
    "COMPLETE": "tab:blue",
    "PRUNED": "tab:orange",
    "FAIL": "tab:red",
    "RUNNING": "tab:gray",
}
OTHER_COLOR = "tab:purple"


def new_figure(height: float = FIGSIZE[1]) -> tuple[Figure, Axes]:
    """A report-sized figure with one set of axes."""
    fig = Figure(figsize=(FIGSIZE[0], height), dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


def message_figure(message: str) -> Figure:
    """A short text-only figure, shown in place of a plot that has no data."""
    fig = Figure(figsize=(FIGSIZE[0], 1.5), dpi=DPI)
    fig.text(0.5, 0.5, plain(message), ha="center", va="center", fontsize=12, color="dimgray")
    return fig


def plain(text: object) -> str:
    """``text`` as a string matplotlib will not read as mathtext."""
    return str(text).replace("$", r"\$")


def state_color(state: str) -> str:
    """The colour of a trial state; states outside :data:`STATE_COLORS` share one."""
    return STATE_COLORS.get(state, OTHER_COLOR)


def state_handles(trials: pd.DataFrame, plotted: set | None = None, line: bool = False) -> list[Line2D]:
    """One legend entry per state, with its count of trials (plotted ones only, if given)."""
    shown = trials if plotted is None else trials[trials["trial"].isin(plotted)]
    counts = shown["state"].value_counts()
    order = [s for s in STATE_COLORS if s in counts] + [s for s in counts.index if s not in STATE_COLORS]
    style = {"linestyle": "-"} if line else {"linestyle": "none", "marker": "o", "markersize": 5}
    return [Line2D([], [], color=state_color(s), label=f"{s} ({counts[s]})", **style) for s in order]


def param_name(column: str) -> str:
    """``params_EarlyStopping.patience`` -> ``EarlyStopping.patience``."""
    return column.removeprefix("params_")


def sorted_values(values) -> list:
    """``values`` sorted, by their strings when their types do not compare."""
    try:
        return sorted(values)
    except TypeError:  # mixed types in a categorical param
        return sorted(values, key=str)
