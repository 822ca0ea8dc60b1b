"""Writing a ``Report`` to ``reports/<study>/``: six CSV files and one HTML page, each atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweeper.reports._report import Report


def write_report(report: Report, report_dir: Path) -> dict[str, Path]:
    """Writes the CSV files (trials, epochs, settings, observations, replay, replay_summary) and ``report.html``.

    Each file is written to a temporary name first and then renamed, so a reader
    never sees half a report.

    Args:
        report: The report.
        report_dir: ``reports/<study>``.

    Returns:
        The written paths by name.
    """
    from sweeper.reports._html import render_html  # matplotlib: only once a report is written

    report_dir.mkdir(parents=True, exist_ok=True)
    contents: dict[str, Any] = {
        "trials.csv": report.trials.to_csv(index=False),
        "epochs.csv": report.epochs.to_csv(index=False),
        "settings.csv": report.settings.to_csv(),
        "observations.csv": report.observations.to_csv(index=False),
        "replay.csv": report.replay.to_csv(index=False),
        "replay_summary.csv": report.replay_summary.to_csv(index=False),
        "report.html": render_html(report),
    }
    return {name: _write_atomically(report_dir / name, text) for name, text in contents.items()}


def _write_atomically(path: Path, text: str) -> Path:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)
    return path
