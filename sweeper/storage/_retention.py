"""Keeping the study's K best checkpoints and deleting the rest, safely from many processes at once.

Every process that ends a trial runs one pass over the study's finished trials. The
pass is safe without locks because what it deletes only grows: a trial that is not
among the K best of the trials finished so far can never be among the K best later,
when more have finished. The process that ends the last trial sees every trial
finished, so once all passes are done exactly the K best checkpoints are left.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper._compat import dashboard_trial_artifact_key, set_study_system_attr, study_system_attrs, trial_id_of
from sweeper.storage._artifacts import (
    artifact_dir,
    checkpoint_artifact_id,
    register_checkpoint,
    unregister_checkpoint,
)

# Trial user attrs the runner records.
CHECKPOINT_ATTR = "checkpoint"
CHECKPOINT_FILES_ATTR = "checkpoint_files"
# The retention a trial ran under: a number, or "all". A trial without it (run before
# retention existed) or under "all" is never deleted by a later run.
KEEP_ATTR = "keep_checkpoints"
# Set on a trial whose retry (same params) stands in for it, and on the retry, the trial it retries.
RETRIED_ATTR = "retried"
RETRY_OF_ATTR = "retry_of"
# A running trial's backup folder, inside its trial folder; its retry resumes from it.
BACKUP_DIRNAME = "backup"
_BACKUP_POINTER = "latest"
# Study system attrs: why a trial's checkpoint was deleted, and how many bytes that freed.
_DELETED = "sweeper:checkpoint_deleted:{number}"
STOP_REASON = "stop_reason"


@dataclass(frozen=True)
class CheckpointRecord:
    """What became of a trial's checkpoint.

    Args:
        artifact_id: Its id in the artifact store, while it is kept there. Defaults to ``None``.
        deleted: Why it was deleted. Defaults to ``None``.
        deleted_bytes: The disk that freed. Defaults to ``0``.
    """

    artifact_id: str | None = None
    deleted: str | None = None
    deleted_bytes: int = 0


def best_numbers(trials: list[FrozenTrial], keep: int, direction: optuna.study.StudyDirection) -> list[int]:
    """The numbers of the ``keep`` best COMPLETE trials, best first; ties go to the earlier trial.

    Args:
        trials: The study's trials, in any state.
        keep: How many to keep.
        direction: The study's direction.

    Returns:
        At most ``keep`` trial numbers.
    """
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    sign = -1.0 if direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    ranked = sorted(complete, key=lambda t: (sign * float(t.value), t.number))
    return [t.number for t in ranked[:keep]]


def retain_checkpoints(study: optuna.Study, runs_dir: str | Path, keep: int | None, *, warn_only: bool = False) -> int:
    """One retention pass: keeps the K best finished trials' checkpoints as artifacts, deletes the rest.

    Only trials that ran under a number are touched: a run never deletes checkpoints
    that a run keeping them all (or one from before retention) decided to keep.
    Pruned and failed trials' checkpoints go when they end.

    Args:
        study: The study, on its storage.
        runs_dir: The runs folder; the study's trials and artifacts live under it.
        keep: How many of the best COMPLETE trials keep their checkpoints; ``None``
            keeps every checkpoint (each listed as an artifact) and deletes nothing.
        warn_only: Turn an error (a storage hiccup) into a warning, as a worker does
            once its trial is told. Defaults to ``False``.

    Returns:
        How many trials' checkpoints this pass deleted.
    """
    if warn_only:
        try:
            return retain_checkpoints(study, runs_dir, keep)
        except Exception as error:
            warnings.warn(f"keeping the best checkpoints failed: {type(error).__name__}: {error}", stacklevel=2)
            return 0
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    store = artifact_dir(runs_dir, study.study_name)
    attrs = study_system_attrs(study)
    awaiting = _backups_awaiting_resume(trials, Path(runs_dir) / study.study_name / "trials")
    if keep is None:
        for trial in trials:
            if KEEP_ATTR in trial.user_attrs:  # ran under retention: kept, so listed as an artifact
                _keep_as_artifact(study, trial, store, attrs)
        return 0
    governed = [t for t in trials if _keep_of(t) is not None and t.number not in awaiting]
    best = set(best_numbers(trials, keep, study.direction))
    deleted = 0
    for trial in governed:
        if trial.number in best:
            _keep_as_artifact(study, trial, store, attrs)
        elif _DELETED.format(number=trial.number) not in attrs:
            deleted += _delete(study, trial, Path(runs_dir), store, _reason(trial, keep))
    return deleted


def checkpoint_records(study: optuna.Study) -> dict[int, CheckpointRecord]:
    """Each trial's checkpoint record, by trial number, for the reports."""
    attrs = study_system_attrs(study)
    records: dict[int, CheckpointRecord] = {}
    for trial in study.get_trials(deepcopy=False):
        deleted = attrs.get(_DELETED.format(number=trial.number))
        if deleted is not None:
            info = json.loads(deleted)
            records[trial.number] = CheckpointRecord(deleted=info["reason"], deleted_bytes=int(info["bytes"]))
            continue
        artifact = _artifact_of(study.study_name, trial, attrs)
        if artifact is not None:
            records[trial.number] = CheckpointRecord(artifact_id=artifact)
    return records


def _backups_awaiting_resume(trials: list[FrozenTrial], trials_dir: Path) -> set[int]:
    """The finished trials whose retry will resume from their backup (and take their checkpoints).

    A backup no retry will take (its trial hung and was killed, or its retries are spent)
    is deleted here.
    """
    awaiting: set[int] = set()
    for trial in trials:
        backup = trials_dir / str(trial.number) / BACKUP_DIRNAME
        if not (backup / _BACKUP_POINTER).exists():
            continue
        if _will_be_retried(trial):
            awaiting.add(trial.number)
        else:
            shutil.rmtree(backup, ignore_errors=True)
    return awaiting


def _will_be_retried(trial: FrozenTrial) -> bool:
    """Retried by sweeper, or reaped for a stale heartbeat (which Optuna retries)."""
    reaped = trial.state == TrialState.FAIL and STOP_REASON not in trial.user_attrs
    return bool(trial.user_attrs.get(RETRIED_ATTR)) or reaped


def _keep_of(trial: FrozenTrial) -> int | None:
    keep = trial.user_attrs.get(KEEP_ATTR)
    return keep if isinstance(keep, int) and not isinstance(keep, bool) else None


def _reason(trial: FrozenTrial, keep: int) -> str:
    if trial.state == TrialState.PRUNED:
        return "pruned"
    if trial.state == TrialState.FAIL:
        return "failed"
    return "keep_checkpoints=0" if keep == 0 else f"not among the {keep} best"


def _keep_as_artifact(study: optuna.Study, trial: FrozenTrial, store: Path, attrs: dict[str, Any]) -> None:
    checkpoint = trial.user_attrs.get(CHECKPOINT_ATTR)
    if not checkpoint or _artifact_of(study.study_name, trial, attrs) is not None:
        return
    path = Path(checkpoint)
    artifact_id = checkpoint_artifact_id(study.study_name, trial.number, path.name)
    register_checkpoint(study, trial_id_of(trial), path, store, artifact_id)


def _artifact_of(study_name: str, trial: FrozenTrial, attrs: dict[str, Any]) -> str | None:
    """The id of the trial's checkpoint artifact, while the dashboard lists it."""
    checkpoint = trial.user_attrs.get(CHECKPOINT_ATTR)
    if not checkpoint:
        return None
    artifact_id = checkpoint_artifact_id(study_name, trial.number, Path(checkpoint).name)
    listed = attrs.get(dashboard_trial_artifact_key(trial_id_of(trial), artifact_id))
    return artifact_id if listed is not None and json.loads(listed) is not None else None


def _delete(study: optuna.Study, trial: FrozenTrial, runs_dir: Path, store: Path, reason: str) -> int:
    """Deletes the trial's checkpoint files and its artifact; records why. Returns 1 if it deleted any."""
    freed = 0
    for path in _files_of(trial, runs_dir / study.study_name / "trials" / str(trial.number) / "checkpoints"):
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue  # another process deleted it first
        freed += size
    checkpoint = trial.user_attrs.get(CHECKPOINT_ATTR)
    if checkpoint:
        artifact_id = checkpoint_artifact_id(study.study_name, trial.number, Path(checkpoint).name)
        unregister_checkpoint(study, trial_id_of(trial), store, artifact_id)
    set_study_system_attr(study, _DELETED.format(number=trial.number), json.dumps({"reason": reason, "bytes": freed}))
    return 1


def _files_of(trial: FrozenTrial, default_folder: Path) -> list[Path]:
    """The checkpoint files the trial wrote; its default folder's files if its worker died before saying."""
    recorded = trial.user_attrs.get(CHECKPOINT_FILES_ATTR)
    if recorded is None and trial.user_attrs.get(CHECKPOINT_ATTR):
        recorded = [trial.user_attrs[CHECKPOINT_ATTR]]
    if recorded is not None:
        return [Path(p) for p in recorded]
    return sorted(p for p in default_folder.glob("*") if p.is_file()) if default_folder.is_dir() else []
