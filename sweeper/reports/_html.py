"""``report.html``: one self-contained page, its figures embedded as base64 PNGs."""

from __future__ import annotations

import base64
import io
import numbers
import re
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from sweeper.reports._html_checkpoints import checkpoints_section
from sweeper.reports.figures import (
    epochs_saved_vs_value_lost,
    importances_bar,
    learning_curves,
    patience_factor_heatmap,
    value_vs_epochs,
)

if TYPE_CHECKING:
    from sweeper.reports._report import Report

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
REPLAY_FIGURE = "Epochs saved against value lost"
TRIAL_TABLE_COLUMNS = ["trial", "state", "value", "best_epoch", "epochs_run", "stop_reason", "lr_reductions"]
CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.5em; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #555; max-width: 700px; }
img { max-width: 100%; }
.note { color: #777; font-style: italic; }
.scroll { overflow-x: auto; }
pre { background: #f8f8f8; border: 1px solid #ddd; padding: 0.5em; overflow-x: auto; font-size: 0.8em; }
code { word-break: break-all; }
"""


def render_html(report: Report) -> str:
    """The report as one HTML page, with no external files or scripts.

    Args:
        report: The report.

    Returns:
        The page's HTML.
    """
    title = f"Sweep report: {escape(report.study_name)}"
    sections = [
        f"<h1>{title}</h1>",
        _summary(report),
        _best_trial(report),
        _figures_section(report),
        _settings_section(report),
        _replay_section(report),
        checkpoints_section(report.trials, better_first=report.mode == "max"),
        _trials_section(report),
        _errors_section(report.trials),
    ]
    body = "\n".join(section for section in sections if section)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def figure_to_data_uri(figure: Figure) -> str:
    """A figure as a ``data:image/png;base64,...`` URI.

    Args:
        figure: The figure.

    Returns:
        The URI.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _summary(report: Report) -> str:
    trials = report.trials
    better = "higher is better" if report.mode == "max" else "lower is better"
    states = _counts(trials["state"], STATES)
    reasons = _counts(trials["stop_reason"], ())
    running = int(trials["state"].eq("RUNNING").sum())
    rows = [
        ("Monitor", f"<code>{escape(report.monitor)}</code> ({escape(report.mode)}: {better})"),
        ("Trials", str(len(trials))),
        ("By state", states or '<span class="note">none</span>'),
        ("By stop reason", reasons or '<span class="note">none recorded</span>'),
    ]
    note = f'<p class="note">{running} trial(s) still running: this report is a snapshot.</p>' if running else ""
    return "<h2>Summary</h2>\n" + _key_value_table(rows) + note


def _counts(values: pd.Series, order: tuple[str, ...]) -> str:
    """``COMPLETE 5 · PRUNED 3``: counts in ``order`` first, then the rest by frequency."""
    counts = values.dropna().astype(str).value_counts()
    keys = [key for key in order if key in counts] + [key for key in counts.index if key not in order]
    return " · ".join(f"{escape(key)} {counts[key]}" for key in keys)


def _best_trial(report: Report) -> str:
    best = report.best
    if best is None:
        return '<h2>Best trial</h2>\n<p class="note">No trial completed with a value.</p>'
    params = {_param_name(name): value for name, value in best.items() if str(name).startswith("params_")}
    rows = [
        ("Trial", f"#{int(best['trial'])}"),
        (escape(report.monitor), _cell(best["value"], digits=6)),
        ("Best epoch", f"{_cell(best['best_epoch'])} (0-based) of {_cell(best['epochs_run'])} run"),
        ("Stop reason", _cell(best.get("stop_reason"))),
        (
            "Learning rate",
            f"{_cell(best.get('lr_initial'))} → {_cell(best.get('lr_final'))} "
            f"({_cell(best.get('lr_reductions'))} reductions)",
        ),
        ("Checkpoint", f"<code>{_cell(best.get('checkpoint'))}</code>"),
    ]
    rows += [(escape(name), _cell(value, digits=6)) for name, value in params.items()]
    return "<h2>Best trial</h2>\n" + _key_value_table(rows)


def _key_value_table(rows: list[tuple[str, str]]) -> str:
    """A two-column table; both cells must already be escaped."""
    body = "\n".join(f'<tr><th class="text">{key}</th><td class="text">{value}</td></tr>' for key, value in rows)
    return f"<table>\n{body}\n</table>"


def _figures_section(report: Report) -> str:
    figures = [
        (
            "Learning curves",
            learning_curves(report.trials, report.epochs, report.monitor),
            "The monitored value per epoch; × marks where the pruner cut a trial, dots each trial's best epoch.",
        ),
        (
            "Value against epochs run",
            value_vs_epochs(report.trials, report.mode, report.monitor),
            "Each trial's value against its cost in epochs. Hollow markers: the mean of each callback setting's "
            "COMPLETE trials; a setting further right but no better spends epochs for nothing.",
        ),
        (
            "Callback settings heat map",
            patience_factor_heatmap(_compared(report), report.mode, report.monitor),
            "Mean value of COMPLETE trials per pair of callback settings, with the number of trials averaged; "
            "a cell with a single trial shows its value, not a mean. " + " ".join(report.settings_notes),
        ),
        ("Parameter importances", importances_bar(report.importances), "Optuna's parameter importances."),
    ]
    parts = ["<h2>Figures</h2>"] + [_figure_html(name, figure, caption) for name, figure, caption in figures]
    return "\n".join(parts)


def _figure_html(name: str, figure: Figure | None, caption: str) -> str:
    if figure is None:
        return f'<p class="note">{escape(name)}: not available for this study ({_missing_reason(name)}).</p>'
    return (
        f'<figure><img src="{figure_to_data_uri(figure)}" alt="{escape(name)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _missing_reason(name: str) -> str:
    return {
        "Value against epochs run": "no trial has both a value and an epoch count",
        "Callback settings heat map": "two callback settings were not both searched, or no trial completed",
        "Parameter importances": "too few completed trials to compute them",
        REPLAY_FIGURE: "no trial was replayed exactly",
    }.get(name, "no data")


def _settings_section(report: Report) -> str:
    settings = report.settings
    if settings.empty:
        return '<h2>Callback settings</h2>\n<p class="note">No settings.</p>'
    # Flat columns, not a sparsified MultiIndex: rows are sorted by value, not by setting.
    table = settings.rename_axis(index=[_param_name(str(name)) for name in settings.index.names]).reset_index()
    notes = "".join(_note_html(note) for note in report.settings_notes)
    confirm = (
        f"<p>The confirm run of study <code>{escape(report.confirm_of)}</code>: its best models, every trained "
        "setting, the same seeds, no pruning; EarlyStopping's smaller settings are read from the replay.</p>\n"
        if report.confirm_of
        else ""
    )
    return (
        "<h2>Callback settings</h2>\n" + confirm + "<p>Best mean value first. Values over COMPLETE trials only; "
        "wasted epochs are those run after the best one.</p>\n" + notes + _table_html(table)
    )


def _note_html(note: str) -> str:
    """A note as a paragraph, its lead word ("Paired", "Confounded", ...) in bold."""
    lead, colon, rest = note.partition(":")
    if not colon or " " in lead:
        return f"<p>{_code_spans(note)}</p>\n"
    return f"<p><b>{escape(lead)}</b>:{_code_spans(rest)}</p>\n"


def _code_spans(text: str) -> str:
    """Escapes ``text``, and sets what it quotes in backticks (a command) as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _compared(report: Report) -> pd.DataFrame:
    """What the settings table compares: its observations (a confirm run's replayed cells too), else the trials."""
    return report.observations if not report.observations.empty else report.trials


def _replay_section(report: Report) -> str:
    heading = "<h2>EarlyStopping replay</h2>\n"
    if report.replay_summary.empty:
        return heading + (
            '<p class="note">Nothing to replay: no trial recorded the EarlyStopping it ran with a logged curve '
            "of its monitor (the study has no <code>sweeper.EarlyStopping</code>, or it ran before sweeper "
            "recorded one).</p>"
        )
    figure = epochs_saved_vs_value_lost(report.replay, report.mode, report.monitor)
    caption = (
        "One point per patience: the epochs it saves in total against the value it loses per trial, over the "
        "trials replayed exactly; hollow points had censored trials."
    )
    return (
        heading + "<p>Each trial's own curve is exact, so a setting that stops no later than the trial did is "
        "replayed exactly (its stop epoch and value, as Keras 3 decides them); one that would have run longer "
        "is censored, unless the trial ran all its epochs, and the pruner could have judged other trials "
        "differently.</p>\n" + _figure_html(REPLAY_FIGURE, figure, caption) + "\n" + _table_html(report.replay_summary)
    )


def _trials_section(report: Report) -> str:
    trials = report.trials
    if trials.empty:
        return '<h2>Trials</h2>\n<p class="note">No trials.</p>'
    columns = [c for c in TRIAL_TABLE_COLUMNS if c in trials.columns]
    columns += [c for c in trials.columns if str(c).startswith("params_")]
    table = trials[columns].rename(columns=_param_name).sort_values("trial")
    return "<h2>Trials</h2>\n" + _table_html(table)


def _table_html(frame: pd.DataFrame) -> str:
    html = frame.to_html(index=False, escape=True, na_rep="", border=0, float_format=_format_float, justify="right")
    return f'<div class="scroll">{html}</div>'


def _errors_section(trials: pd.DataFrame) -> str:
    if "error" not in trials.columns:
        return ""
    failed = trials[trials["state"].eq("FAIL") | trials["error"].fillna("").astype(str).str.strip().ne("")]
    if failed.empty:
        return ""
    items = [_error_details(row) for _, row in failed.sort_values("trial").iterrows()]
    return "<h2>Errors</h2>\n" + "\n".join(items)


def _error_details(row: pd.Series) -> str:
    error = row.get("error")
    text = str(error) if isinstance(error, str) and error.strip() else "(no traceback recorded)"
    reason = row.get("stop_reason")
    label = f"Trial #{int(row['trial'])}: {row['state']}" + (f" ({reason})" if isinstance(reason, str) else "")
    # A traceback's last line names the exception: the gist, before unfolding it.
    last_line = text.strip().splitlines()[-1] if text.strip() else ""
    return f"<details><summary>{escape(label)} — {escape(last_line[:200])}</summary><pre>{escape(text)}</pre></details>"


def _param_name(column: str) -> str:
    return column.removeprefix("params_")


def _format_float(value: float) -> str:
    return f"{value:.4g}"


def _cell(value: Any, digits: int = 4) -> str:
    """A value as escaped HTML: numbers compactly (``14.0`` -> ``14``), missing ones as ``–``."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:.{digits}g}"
    return escape(str(value))
