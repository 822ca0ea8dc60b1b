"""``trials.csv``: one row per trial, from the Optuna storage."""

from __future__ import annotations

from typing import Any

import optuna
import pandas as pd

from sweeper.trial._outcome import error_of, stop_reason_of

# The order README.md's Reports section documents; params_* follow, then the extra attrs.
TRIAL_COLUMNS = [
    "trial",
    "state",
    "value",
    "best_epoch",
    "epochs_run",
    "stop_reason",
    "lr_initial",
    "lr_final",
    "lr_reductions",
    "duration_s",
    "checkpoint",
    "logdir",
]
EXTRA_COLUMNS = [
    "repeat",
    "seed",
    "fit_s",
    "worker_rss_mb",
    "pid",
    "host",
    "datetime_start",
    "datetime_complete",
    "error",
]


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial of ``study``, in every state.

    Args:
        study: The Optuna study.

    Returns:
        The columns README.md documents (``trial``, ``state``, ``value``, ``best_epoch``, ...),
        one ``params_<name>`` column per param, then ``repeat``, ``seed``,
        ``fit_s``, ``worker_rss_mb``, ``pid``, ``host``, ``datetime_start``,
        ``datetime_complete`` and ``error``.
    """
    rows = [_row(trial) for trial in study.get_trials(deepcopy=False)]
    param_columns = sorted({key for row in rows for key in row if key.startswith("params_")})
    columns = TRIAL_COLUMNS + param_columns + EXTRA_COLUMNS
    return pd.DataFrame(rows, columns=columns)


def _row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    attrs = trial.user_attrs
    row = {
        "trial": trial.number,
        "state": trial.state.name,
        "value": attrs.get("best_value", trial.value),
        "datetime_start": trial.datetime_start,
        "datetime_complete": trial.datetime_complete,
    }
    for column in TRIAL_COLUMNS[3:] + EXTRA_COLUMNS:
        row.setdefault(column, attrs.get(column))
    row["repeat"] = attrs.get("repeat", 0)
    row["stop_reason"] = stop_reason_of(trial)
    row["error"] = error_of(trial)
    row.update({f"params_{name}": value for name, value in trial.params.items()})
    return row
