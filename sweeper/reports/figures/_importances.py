"""The parameter importances bar chart."""

from __future__ import annotations

from matplotlib.figure import Figure

from sweeper.reports.figures._style import new_figure, plain


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
    fig, ax = new_figure(height=max(1.5, 0.35 * len(ranked) + 1.0))
    ax.barh([plain(name) for name, _ in ranked], [value for _, value in ranked], color="tab:blue")
    ax.set_xlabel("importance")
    ax.set_title("Parameter importances (Optuna)")
    ax.tick_params(axis="y", labelsize=8)
    return fig
