"""``trials.csv``: one row per trial, from the Optuna storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from sweeper.storage._disk import tree_bytes
from sweeper.storage._retention import CHECKPOINT_ATTR, CHECKPOINT_FILES_ATTR, CheckpointRecord, checkpoint_records
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
# What the trial's files take on disk, and what became of its checkpoint (keep_checkpoints).
DISK_COLUMNS = ["checkpoint_deleted", "checkpoint_artifact", "checkpoint_mb", "checkpoint_freed_mb", "tensorboard_mb"]
EXTRA_COLUMNS = [
    "repeat",
    "seed",
    "resumed_from_epoch",
    "fit_s",
    "worker_rss_mb",
    "pid",
    "host",
    "device",
    "backend",
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
        the checkpoint's fate and the disk use (``checkpoint_deleted``, ``checkpoint_artifact``,
        ``checkpoint_mb``, ``checkpoint_freed_mb``, ``tensorboard_mb``), one ``params_<name>``
        column per param, then ``repeat``, ``seed``, ``fit_s``, ``worker_rss_mb``, ``pid``,
        ``host``, ``device``, ``backend``, ``datetime_start``, ``datetime_complete`` and ``error``.
    """
    records = checkpoint_records(study)
    rows = [_row(trial, records.get(trial.number)) for trial in study.get_trials(deepcopy=False)]
    param_columns = sorted({key for row in rows for key in row if key.startswith("params_")})
    columns = TRIAL_COLUMNS + DISK_COLUMNS + param_columns + EXTRA_COLUMNS
    return pd.DataFrame(rows, columns=columns)


def _row(trial: optuna.trial.FrozenTrial, record: CheckpointRecord | None) -> dict[str, Any]:
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
    row.update(_disk_columns(trial, record or CheckpointRecord()))
    row.update({f"params_{name}": value for name, value in trial.params.items()})
    return row


def _disk_columns(trial: optuna.trial.FrozenTrial, record: CheckpointRecord) -> dict[str, Any]:
    """The checkpoint (empty, with the reason, once deleted), its artifact, and the trial's disk use."""
    checkpoint = trial.user_attrs.get(CHECKPOINT_ATTR)
    deleted = record.deleted
    if checkpoint and deleted is None and not Path(checkpoint).exists():
        deleted = "missing from disk"
    files = trial.user_attrs.get(CHECKPOINT_FILES_ATTR) or ([checkpoint] if checkpoint else [])
    return {
        "checkpoint": None if deleted else checkpoint,
        "checkpoint_deleted": deleted,
        "checkpoint_artifact": record.artifact_id,
        "checkpoint_mb": _mb(sum(tree_bytes(path) for path in files)),
        "checkpoint_freed_mb": _mb(record.deleted_bytes),
        "tensorboard_mb": _mb(tree_bytes(trial.user_attrs.get("logdir"))),
    }


def _mb(size: int) -> float:
    return round(size / 1e6, 3)
