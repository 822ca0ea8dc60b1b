"""Resuming a retried trial at the last epoch its interrupted attempt backed up.

A trial cut short (Ctrl-C, SIGTERM, a dead worker, a lost machine) is retried as a new
trial with the same params. The retry takes over its predecessor's folder (backup,
TensorBoard logs, checkpoints), reports the predecessor's intermediate values up to
the backed-up epoch so the pruner judges the whole curve, and fits from that epoch
with every callback's state restored (``callbacks/_trial_backup.py``).
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import optuna

from sweeper._compat import heartbeat_retry_history, storage_of, trial_id_of
from sweeper.callbacks._atomic_checkpoint import AtomicModelCheckpoint
from sweeper.callbacks._progress_file import ProgressFile
from sweeper.callbacks._trial_backup import BACKUP_DIRNAME, TrialBackup, backup_state
from sweeper.callbacks._trial_recorder import TrialRecorder
from sweeper.search._pruning import PruningBridge
from sweeper.storage._retention import RETRY_OF_ATTR

RESUMED_FROM_ATTR = "resumed_from_epoch"
# Which attributes hold each callback's state between epochs; everything else is reset
# by its on_train_begin or set from the trial's config.
STATEFUL_ATTRS: dict[type, tuple[str, ...]] = {
    keras.callbacks.EarlyStopping: ("wait", "stopped_epoch", "best", "best_epoch", "best_weights"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "cooldown_counter", "best"),
    AtomicModelCheckpoint: ("best", "best_path", "last_path", "saved_paths", "_epochs_since_save", "_resolved_mode"),
    TrialRecorder: ("best", "best_epoch", "epochs_run", "diverged_epoch", "lr_initial", "lr_final", "lr_reductions"),
    PruningBridge: ("best", "pruned_epoch"),
    ProgressFile: ("_best", "_epochs_done"),
}


@dataclass(frozen=True)
class Resume:
    """Where a trial's fit starts: epoch 0, or the backup it resumes from.

    Args:
        folder: The trial's backup folder.
        epoch: The epoch the fit starts at. Defaults to ``0``.
        backup: The backup's state, when it resumes. Defaults to ``None``.
    """

    folder: Path
    epoch: int = 0
    backup: dict[str, Any] | None = None

    def callback(self, callbacks: list[Any], trial: optuna.Trial, every_s: float) -> TrialBackup:
        """The backup callback for this fit, to put last among its callbacks."""
        stateful = [(c, STATEFUL_ATTRS[type(c)]) for c in callbacks if type(c) in STATEFUL_ATTRS]
        return TrialBackup(self.folder, stateful, self.folder.parent, trial.params, self.backup, every_s)

    def remove(self) -> None:
        """Deletes the backup: the trial has ended."""
        shutil.rmtree(self.folder, ignore_errors=True)


def prepare_resume(trial: optuna.Trial, trial_dir: Path) -> Resume:
    """Takes over an interrupted predecessor's folder, if any, and finds where the fit resumes.

    Args:
        trial: The running trial.
        trial_dir: Its folder, ``runs/<study>/trials/<number>``.

    Returns:
        The trial's resume point; epoch 0 without a usable backup.
    """
    folder = trial_dir / BACKUP_DIRNAME
    predecessor = predecessor_of(trial)
    if predecessor is not None:
        _take_over(trial_dir.parent / str(predecessor.number), trial_dir)
    backup = backup_state(folder)
    if backup is None:
        return Resume(folder)
    if backup.get("params") != trial.params:
        warnings.warn(f"trial {trial.number}: its backup is of other params; it starts from epoch 0", stacklevel=2)
        shutil.rmtree(folder, ignore_errors=True)
        return Resume(folder)
    epoch = int(backup["epoch"])
    if predecessor is not None:
        for step, value in sorted(predecessor.intermediate_values.items()):
            if step < epoch:
                trial.report(value, step)  # the pruner judges the whole curve, not the part after the resume
    trial.set_user_attr(RESUMED_FROM_ATTR, epoch)
    return Resume(folder, epoch, backup)


def predecessor_of(trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """The interrupted trial this one retries: by sweeper's ``retry_of``, or Optuna's heartbeat retry."""
    number = trial.user_attrs.get(RETRY_OF_ATTR)
    if number is None:
        history = heartbeat_retry_history(storage_of(trial.study).get_trial(trial_id_of(trial)))
        number = history[-1] if history else None
    if number is None:
        return None
    return next((t for t in trial.study.get_trials(deepcopy=False) if t.number == int(number)), None)


def _take_over(old: Path, new: Path) -> None:
    """Moves the predecessor's folder contents (backup, logs, checkpoints) into the retry's folder."""
    if not old.is_dir() or old == new:
        return
    new.mkdir(parents=True, exist_ok=True)
    for entry in old.iterdir():
        target = new / entry.name
        if entry.name == "progress.json" or target.exists():
            continue
        entry.rename(target)
