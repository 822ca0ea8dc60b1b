"""A sweep's status as text: a rich table under header lines for a terminal, plain text elsewhere.

Everything here is a function of a ``StudyStatus`` alone, so that ``sweeper status``
and the live view of ``sweeper run`` show the same table.
"""

from __future__ import annotations

import io
import shutil
from typing import Any

import pandas as pd
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from sweeper.execution._status import Health, StudyStatus, format_duration

HEADERS = ("trial", "worker", "device", "epoch", "batch", "value", "best", "elapsed", "updated")
RIGHT_ALIGNED = frozenset({"trial", "epoch", "batch", "value", "best", "elapsed", "updated"})
# Marks a trial shown from its Optuna reports: it has no progress file to read.
FROM_OPTUNA = "*"
FROM_OPTUNA_NOTE = f"{FROM_OPTUNA} no progress file: epochs from the trial's Optuna reports, and no current value"
HEALTH_STYLES = {Health.SILENT.value: "yellow", Health.EXITED.value: "red"}


def header_lines(status: StudyStatus) -> list[str]:
    """The lines above the table: whether the sweep runs and why, its totals, and its time left.

    Args:
        status: The sweep's status.

    Returns:
        Two lines, three while it runs.
    """
    state = "running" if status.is_running else "not running"
    lines = [f"study {status.study!r} {state}: {status.reason}", _totals_line(status)]
    if status.is_running:
        lines.append(_time_left_line(status))
    return lines


def status_table(status: StudyStatus) -> Table:
    """The running trials as a rich table, one row per trial.

    Args:
        status: The sweep's status.

    Returns:
        The table; it has no rows when no trial is RUNNING.
    """
    table = Table(box=None, header_style="bold", pad_edge=False)
    for header in HEADERS:
        table.add_column(header, justify="right" if header in RIGHT_ALIGNED else "left")
    for row in _rows(status):
        # Text, not str: rich would read a "[...]" in a cell as markup.
        table.add_row(*(Text(cell) for cell in _cells(row)), style=HEALTH_STYLES.get(row["health"]))
    return table


def status_renderable(status: StudyStatus) -> Group:
    """The header lines and the table, as one rich renderable (for a ``rich.live.Live``).

    Args:
        status: The sweep's status.

    Returns:
        The renderable.
    """
    style = "bold green" if status.is_running else "bold red"
    first, *others = header_lines(status)
    parts: list[Any] = [Text(first, style=style), *(Text(line) for line in others)]
    if not status.running.empty:
        parts.append(status_table(status))
    if _any_from_optuna(status):
        parts.append(Text(FROM_OPTUNA_NOTE, style="dim"))
    return Group(*parts)


def render_terminal(status: StudyStatus, width: int | None = None) -> str:
    """The status as a terminal shows it: styled, with escape codes.

    Args:
        status: The sweep's status.
        width: The terminal's width. Defaults to the width of this process's terminal.

    Returns:
        The text.
    """
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=width or shutil.get_terminal_size().columns)
    console.print(status_renderable(status))
    return buffer.getvalue()


def render_plain(status: StudyStatus) -> str:
    """The status as plain text for logs and pipes: no escape codes, columns padded with spaces.

    Args:
        status: The sweep's status.

    Returns:
        The text, ending with a newline.
    """
    lines = header_lines(status)
    if not status.running.empty:
        lines += _aligned([list(HEADERS), *(_cells(row) for row in _rows(status))])
    if _any_from_optuna(status):
        lines.append(FROM_OPTUNA_NOTE)
    return "\n".join(lines) + "\n"


def _totals_line(status: StudyStatus) -> str:
    done = f"{status.results}/{status.n_trials}" if status.n_trials is not None else f"{status.results}"
    epochs = f"{status.epochs_trained} epochs trained"
    if status.epoch_budget is not None:
        epochs = f"{status.epochs_trained}/{status.epoch_budget} epochs of the budget"
    best = ""
    if status.best_value is not None:
        best = f" · best {status.monitor or 'value'} {status.best_value:.4f} (trial {status.best_trial})"
    counts = f"{status.complete} complete, {status.pruned} pruned, {status.failed} failed"
    return f"{done} results: {counts}{best} · {epochs}"


def _time_left_line(status: StudyStatus) -> str:
    if status.eta_s is not None and status.epochs_per_s:
        return f"time left: about {format_duration(status.eta_s)}, at {status.epochs_per_s:.2f} epochs/s"
    if status.n_trials is None and status.epoch_budget is None:
        return "time left: unknown (the study records neither n_trials nor an epoch budget)"
    return "time left: unknown until an epoch ends"


def _rows(status: StudyStatus) -> list[dict[str, Any]]:
    return status.running.to_dict("records")


def _cells(row: dict[str, Any]) -> list[str]:
    """One row's cells, the same in the rich table and in plain text."""
    trial = f"{row['trial']}{FROM_OPTUNA if row['source'] == 'optuna' else ''}"
    updated = f"{format_duration(row['updated_s_ago'])} ago"
    if row["health"] != Health.RUNNING.value:
        updated += f" ({row['health']})"
    return [
        trial,
        _text(row["worker"]),
        _text(row["device"]),
        f"{_whole(row['epoch'])}/{_whole(row['epochs'], '?')}",
        "" if _missing(row["batch"]) else f"{_whole(row['batch'])}/{_whole(row['steps'], '?')}",
        _value(row["value"]),
        _value(row["best"]),
        "" if _missing(row["elapsed_s"]) else format_duration(row["elapsed_s"]),
        updated,
    ]


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    return [
        "  ".join(
            cell.rjust(width) if header in RIGHT_ALIGNED else cell.ljust(width)
            for cell, width, header in zip(row, widths, HEADERS, strict=True)
        ).rstrip()
        for row in rows
    ]


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _whole(value: Any, missing: str = "-") -> str:
    return missing if _missing(value) else str(int(value))


def _value(value: Any) -> str:
    return "-" if _missing(value) else f"{float(value):.4f}"


def _text(value: Any) -> str:
    return "-" if _missing(value) else str(value)


def _any_from_optuna(status: StudyStatus) -> bool:
    return bool((status.running["source"] == "optuna").any())
