"""Value against cost: each trial's value against the epochs it ran, with per-setting means."""

from __future__ import annotations

from itertools import cycle

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sweeper.reports._settings import callback_setting_columns
from sweeper.reports.figures._style import new_figure, param_name, plain, sorted_values, state_color, state_handles

SETTING_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


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
    fig, ax = new_figure()
    keys = [key for key in callback_setting_columns(points) if points[key].notna().any()]
    markers = _setting_markers(points, keys)
    for (state, marker), group in points.groupby([points["state"], markers], sort=False):
        ax.scatter(
            group["epochs_run"],
            group["value"],
            c=state_color(state),
            marker=marker,
            s=30,
            alpha=0.75,
            edgecolors="none",
        )
    if keys:
        _plot_setting_means(ax, points, keys, markers)
    _ring_best(ax, points, mode)
    ax.margins(x=0.15, y=0.1)  # room for the labels at the edges
    handles = state_handles(points) + (_setting_handles(points, keys, markers) if keys else [])
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    better = "higher" if mode == "max" else "lower"
    ax.set_xlabel("epochs run")
    ax.set_ylabel(f"{plain(monitor)} ({better} is better)")
    ax.set_title("Value against cost")
    return fig


def _short_name(column: str) -> str:
    """``params_ReduceLROnPlateau.factor`` -> ``RLROP.factor``: callbacks by their capitals."""
    callback, _, param = param_name(column).partition(".")
    return f"{''.join(c for c in callback if c.isupper()) or callback}.{param}"


def _setting_label(setting: tuple) -> str:
    return " / ".join(plain(value) for value in setting)


def _setting_of(points: pd.DataFrame, keys: list[str]) -> pd.Series:
    return pd.Series(list(points[keys].itertuples(index=False, name=None)), index=points.index)


def _setting_markers(points: pd.DataFrame, keys: list[str]) -> pd.Series:
    """A marker per trial: one per distinct setting, or circles when nothing was searched."""
    if not keys:
        return pd.Series("o", index=points.index)
    settings = _setting_of(points, keys)
    ordered = sorted_values(settings.unique())
    by_setting = dict(zip(ordered, cycle(SETTING_MARKERS)))
    return settings.map(by_setting)


def _plot_setting_means(ax: Axes, points: pd.DataFrame, keys: list[str], markers: pd.Series) -> None:
    complete = points[points["state"].eq("COMPLETE")]
    if complete.empty:
        return
    settings = _setting_of(complete, keys)
    for setting, group in complete.groupby(settings, sort=False):
        x, y = group["epochs_run"].mean(), group["value"].mean()
        ax.scatter(
            [x],
            [y],
            marker=markers[group.index[0]],
            s=140,
            facecolors="none",
            edgecolors="black",
            linewidths=1.2,
            zorder=4,
        )
        ax.annotate(_setting_label(setting), (x, y), xytext=(7, 5), textcoords="offset points", fontsize=7)


def _ring_best(ax: Axes, points: pd.DataFrame, mode: str) -> None:
    complete = points[points["state"].eq("COMPLETE")]
    if complete.empty:
        return
    best = complete.loc[complete["value"].idxmax() if mode == "max" else complete["value"].idxmin()]
    ax.scatter(
        [best["epochs_run"]], [best["value"]], marker="*", s=160, c="gold", edgecolors="black", linewidths=0.8, zorder=5
    )
    ax.annotate(
        f"best #{int(best['trial'])}",
        (best["epochs_run"], best["value"]),
        xytext=(-10, -14),
        textcoords="offset points",
        fontsize=7,
        ha="right",
    )


def _setting_handles(points: pd.DataFrame, keys: list[str], markers: pd.Series) -> list[Line2D]:
    marker_of = dict(zip(_setting_of(points, keys), markers, strict=True))
    header = Line2D([], [], linestyle="none", label="setting:\n" + " /\n".join(_short_name(key) for key in keys))
    handles = [header] + [
        Line2D([], [], color="dimgray", marker=marker_of[setting], linestyle="none", label=_setting_label(setting))
        for setting in sorted_values(marker_of)
    ]
    handles.append(
        Line2D(
            [],
            [],
            color="black",
            marker="o",
            markerfacecolor="none",
            markersize=9,
            linestyle="none",
            label="setting mean",
        )
    )
    return handles
