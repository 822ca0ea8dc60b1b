"""``report.html``'s Checkpoints section: the kept checkpoints, linked, and the disk the rest freed."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

DISK_COLUMNS = ("checkpoint", "checkpoint_deleted", "checkpoint_mb", "checkpoint_freed_mb", "tensorboard_mb")


def checkpoints_section(trials: pd.DataFrame, better_first: bool) -> str:
    """The kept checkpoints (best first, each a link), how many were deleted, and the study's disk use.

    Args:
        trials: ``trials.csv``'s frame.
        better_first: Whether a higher value is better, to order the kept checkpoints.

    Returns:
        The section's HTML, or ``""`` for a frame without the disk columns.
    """
    if trials.empty or not set(DISK_COLUMNS) <= set(trials.columns):
        return ""
    kept = trials[trials["checkpoint"].notna()].sort_values("value", ascending=not better_first)
    deleted = trials[trials["checkpoint_deleted"].notna()]
    freed_mb = float(deleted["checkpoint_freed_mb"].fillna(0).sum())
    on_disk_mb = float(trials["checkpoint_mb"].fillna(0).sum() + trials["tensorboard_mb"].fillna(0).sum())
    summary = (
        f"<p>{len(kept)} checkpoint(s) kept; {len(deleted)} deleted ({_reasons(deleted)}), "
        f"which freed {freed_mb:,.1f} MB. The study's checkpoints and TensorBoard logs take "
        f"{on_disk_mb:,.1f} MB on disk.</p>"
    )
    return "<h2>Checkpoints</h2>\n" + summary + ("\n" + _kept_table(kept) if not kept.empty else "")


def _reasons(deleted: pd.DataFrame) -> str:
    counts = deleted["checkpoint_deleted"].astype(str).value_counts()
    return ", ".join(f"{count} {escape(reason)}" for reason, count in counts.items()) or "none"


def _kept_table(kept: pd.DataFrame) -> str:
    rows = "\n".join(
        f'<tr><td>#{int(row.trial)}</td><td>{row.value:.6g}</td><td class="text">{_link(row.checkpoint)}</td>'
        f"<td>{row.checkpoint_mb:.2f}</td></tr>"
        for row in kept.itertuples()
    )
    header = '<tr><th>trial</th><th>value</th><th class="text">checkpoint</th><th>MB</th></tr>'
    return f'<div class="scroll"><table>\n{header}\n{rows}\n</table></div>'


def _link(path: str) -> str:
    """A link a browser opens from the report's own page: the checkpoint's ``file://`` URI."""
    uri = Path(path).resolve().as_uri()
    return f'<a href="{escape(uri)}"><code>{escape(path)}</code></a>'
