"""The callback-settings heat map: mean value of COMPLETE trials over patience × factor.

A cell of one trial is drawn grey with that trial's value: one run is no mean, and
colouring it as one would rank settings on noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from sweeper.reports._settings import callback_setting_columns
from sweeper.reports.figures._style import new_figure, param_name, plain, sorted_values

MIN_FOR_MEAN = 2
PATIENCE = "params_EarlyStopping.patience"
FACTOR = "params_ReduceLROnPlateau.factor"


def patience_factor_heatmap(trials: pd.DataFrame, mode: str, monitor: str = "value") -> Figure | None:
    """Mean value of COMPLETE trials over two callback settings, as a heat map; single trials are not coloured.

    The axes are EarlyStopping ``patience`` (rows) and ReduceLROnPlateau
    ``factor`` (columns) when both were searched; otherwise the two callback
    params of the study, if it searched exactly two.

    Args:
        trials: The trials table, or the report's observations (a confirm run's
            replayed settings included).
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
    fig, ax = new_figure()
    cmap = "viridis" if mode == "max" else "viridis_r"
    coloured = means.where(counts >= MIN_FOR_MEAN)
    image = ax.imshow(np.ma.masked_invalid(coloured.to_numpy(dtype=float)), cmap=cmap, aspect="auto")
    ax.set_facecolor("#dddddd")  # cells without a mean
    _annotate_cells(ax, image, means, counts, tried.fillna(0).astype(int))
    ax.set_xticks(range(len(column_values)), [plain(v) for v in column_values])
    ax.set_yticks(range(len(row_values)), [plain(v) for v in row_values])
    ax.set_xlabel(plain(param_name(columns)))
    ax.set_ylabel(plain(param_name(rows)))
    better = "higher" if mode == "max" else "lower"
    fig.colorbar(image, ax=ax, label=f"mean {plain(monitor)} ({better} is better)")
    ax.set_title("Mean value of COMPLETE trials per setting")
    return fig


def _heatmap_axes(trials: pd.DataFrame) -> tuple[str, str] | None:
    """The (rows, columns) params of the heat map, or ``None``."""
    if PATIENCE in trials.columns and FACTOR in trials.columns:
        return PATIENCE, FACTOR
    searched = callback_setting_columns(trials)
    return (searched[0], searched[1]) if len(searched) == 2 else None


def _sorted_unique(values: pd.Series) -> list:
    return sorted_values(values.dropna().unique())


def _annotate_cells(ax: Axes, image: AxesImage, means: pd.DataFrame, counts: pd.DataFrame, tried: pd.DataFrame) -> None:
    """Writes each cell's mean and count; empty cells say whether anything ran there."""
    norm: Normalize = image.norm
    for i, row in enumerate(means.index):
        for j, column in enumerate(means.columns):
            mean, n, ran = means.loc[row, column], counts.loc[row, column], tried.loc[row, column]
            if pd.isna(mean) or n < MIN_FOR_MEAN:
                ax.text(j, i, _grey_text(mean, ran), ha="center", va="center", fontsize=7, color="dimgray")
                continue
            # Dark text on the bright end of viridis, light text on the dark end.
            shade = image.cmap(norm(mean))
            luminance = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2]
            ax.text(
                j,
                i,
                f"{mean:.4g}\nn={n}",
                ha="center",
                va="center",
                fontsize=8,
                color="black" if luminance > 0.5 else "white",
            )


def _grey_text(mean: float, ran: int) -> str:
    if not pd.isna(mean):
        return f"{mean:.4g}\n1 trial:\nnot a mean"
    return f"no COMPLETE\n({ran} tried)" if ran else "not tried"
