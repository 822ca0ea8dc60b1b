"""The EarlyStopping replay: epochs saved against value lost, one point per patience."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sweeper.reports.figures._style import new_figure, plain


def epochs_saved_vs_value_lost(replay: pd.DataFrame, mode: str, monitor: str) -> Figure | None:
    """What each replayed patience saves in epochs and costs in value, over the trials replayed exactly.

    One point per patience: the epochs it saves in total against the mean value it
    loses per trial (0 when every trial keeps its value). Patiences with censored
    trials (they would have run longer than some trials did) are drawn hollow: their
    points cover the exact trials only.

    Args:
        replay: The replay table (``replay.csv``).
        mode: The study's ``"max"`` or ``"min"``: which way a value change is a loss.
        monitor: The study's monitor, for the axis.

    Returns:
        The figure, or ``None`` when no trial was replayed exactly.
    """
    if replay.empty or replay["censored"].astype(bool).all():
        return None
    change = replay["value_change"].astype("float64")
    frame = replay.assign(
        _lost=-change if mode == "max" else change,
        _saved=replay["epochs_saved"].astype("float64"),
        _censored=replay["censored"].astype(bool),
    )
    grouped = frame.groupby("patience", sort=True)
    points = pd.DataFrame(
        {
            "saved": grouped["_saved"].sum(),
            "lost": grouped["_lost"].mean(),
            "censored": grouped["_censored"].sum(),
        }
    ).dropna(subset=["lost"])
    if points.empty:
        return None
    fig, ax = new_figure()
    ax.plot(points["saved"], points["lost"], color="lightgray", linewidth=1, zorder=1)
    exact = points["censored"].eq(0)
    ax.scatter(points.loc[exact, "saved"], points.loc[exact, "lost"], c="tab:blue", s=36, zorder=3)
    ax.scatter(
        points.loc[~exact, "saved"],
        points.loc[~exact, "lost"],
        facecolors="none",
        edgecolors="tab:blue",
        s=36,
        zorder=3,
    )
    # Patiences at one point share a label: Keras's patience 0 and 1 always do (`wait` grows before the check).
    for where, same in points.groupby(["saved", "lost"], sort=False):
        label = ", ".join(str(patience) for patience in same.index)
        ax.annotate(label, where, xytext=(4, 4), textcoords="offset points", fontsize=7)
    ax.axhline(0, color="black", linewidth=0.6, zorder=0)
    ax.margins(x=0.08, y=0.12)
    handles = [
        Line2D([], [], color="tab:blue", marker="o", linestyle="none", label="every trial exact"),
        Line2D([], [], color="tab:blue", marker="o", markerfacecolor="none", linestyle="none", label="some censored"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="upper left", title="patience (labels)", title_fontsize=7)
    ax.set_xlabel("epochs saved (total over the trials replayed exactly)")
    ax.set_ylabel(f"{plain(monitor)} lost (mean per trial)")
    ax.set_title("EarlyStopping replay: epochs saved against value lost")
    return fig
