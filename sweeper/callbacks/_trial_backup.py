"""A trial's backup at epoch ends, and resuming from it exactly where the trial was.

Keras's own ``BackupAndRestore`` saves the weights, the optimizer and the epoch, but not
the random state a trial trains with (each Dropout layer's seed generator, NumPy's and
Python's generators) nor the callbacks' own state, so a resumed trial would not end as
the uninterrupted one would. This backup holds all of it:

- ``model.weights.h5``: ``model.save_weights``, the optimizer's variables included;
- ``arrays.npz``: the model's seed generator states, the callbacks' arrays (such as
  EarlyStopping's best weights) and, on PyTorch, its global generators' states;
- ``state.json``: the epoch to resume at, the callbacks' other state, NumPy's and
  Python's random state, the trial's params and folder.

Each backup is written to a new ``epoch-NNNN`` folder, then named in ``latest`` by an
atomic rename, so a process killed mid-save leaves the previous backup whole.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from sweeper.callbacks._framework_random import framework_random_state, restore_framework_random_state
from sweeper.storage._retention import BACKUP_DIRNAME

__all__ = ["BACKUP_DIRNAME", "TrialBackup", "backup_state"]

LATEST = "latest"  # storage/_retention reads it too: a trial with a backup awaits its resume
STATE = "state.json"
WEIGHTS = "model.weights.h5"
ARRAYS = "arrays.npz"


def backup_state(folder: Path) -> dict[str, Any] | None:
    """The state of the latest whole backup in ``folder``, or ``None`` if it has none."""
    try:
        latest = folder / (folder / LATEST).read_text().strip()
        return {**json.loads((latest / STATE).read_text()), "folder": str(latest)}
    except (OSError, ValueError):
        return None


class TrialBackup(keras.callbacks.Callback):
    """Backs the trial up at epoch ends, at most every ``every_s`` seconds; restores it at train begin.

    Put it last among the fit's callbacks: it saves after every other callback has
    ended the epoch, and restores after every other callback has reset itself.

    Args:
        folder: The trial's backup folder.
        stateful: Each callback whose state is saved, with the names of its attributes
            that hold it.
        trial_dir: The trial's folder; paths under a restored backup's folder move here.
        params: The trial's params; a backup of other params is never restored.
        restore: The backup to resume from (see :func:`backup_state`), or ``None``.
            Defaults to ``None``.
        every_s: The least time between two backups. Defaults to ``60``.
    """

    def __init__(
        self,
        folder: Path,
        stateful: list[tuple[Any, tuple[str, ...]]],
        trial_dir: Path,
        params: dict[str, Any],
        restore: dict[str, Any] | None = None,
        every_s: float = 60.0,
    ) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.stateful = stateful
        self.trial_dir = str(trial_dir)
        self.trial_params = params  # not `params`: Keras sets a callback's `params` to the fit's
        self.restore = restore
        self.every_s = every_s

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._last_save = time.monotonic()
        if self.restore is not None:
            self._restore(self.restore)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.model.stop_training or time.monotonic() - self._last_save < self.every_s:
            return  # a trial that stops here ends now: its backup would be deleted unread
        self._save(epoch + 1)
        self._last_save = time.monotonic()

    def _save(self, next_epoch: int) -> None:
        target = self.folder / f"epoch-{next_epoch:04d}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        self.model.save_weights(str(target / WEIGHTS))
        states, arrays = self._callback_states()
        arrays.update(
            {f"seed.{i}": np.asarray(keras.ops.convert_to_numpy(v.value)) for i, v in enumerate(self._seeds())}
        )
        arrays.update(framework_random_state())
        np.savez(target / ARRAYS, **arrays)
        numpy_state = np.random.get_state()
        state = {
            "epoch": next_epoch,
            "params": self.trial_params,
            "trial_dir": self.trial_dir,
            "callbacks": states,
            "numpy_random": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],
            "python_random": _jsonable(random.getstate()),
        }
        (target / STATE).write_text(json.dumps(state))
        pointer = self.folder / f".{LATEST}-{os.getpid()}"
        pointer.write_text(target.name)
        os.replace(pointer, self.folder / LATEST)  # the backup is whole from here on
        for old in self.folder.glob("epoch-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def _callback_states(self) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
        states: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray] = {}
        for index, (callback, names) in enumerate(self.stateful):
            state: dict[str, Any] = {}
            for name in names:
                value = getattr(callback, name, None)
                if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
                    arrays.update({f"cb.{index}.{name}.{j}": array for j, array in enumerate(value)})
                    state[name] = {"arrays": len(value)}
                else:
                    state[name] = _jsonable(value)
            states.append(state)
        return states, arrays

    def _restore(self, backup: dict[str, Any]) -> None:
        folder = Path(backup["folder"])
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its variables must exist to be loaded
        model.load_weights(str(folder / WEIGHTS))
        with np.load(folder / ARRAYS) as arrays:
            for i, variable in enumerate(self._seeds()):
                variable.assign(arrays[f"seed.{i}"])
            saved = {key: arrays[key] for key in arrays.files}
            self._restore_callbacks(backup, saved)
            restore_framework_random_state(saved)
        numpy_state = backup["numpy_random"]
        np.random.set_state((numpy_state[0], np.array(numpy_state[1], dtype=np.uint32), *numpy_state[2:]))
        random.setstate(_python_state(backup["python_random"]))

    def _restore_callbacks(self, backup: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        moved_from = backup["trial_dir"]
        for index, ((callback, names), state) in enumerate(zip(self.stateful, backup["callbacks"], strict=True)):
            for name in names:
                value = state.get(name)
                if isinstance(value, dict) and "arrays" in value:
                    value = [arrays[f"cb.{index}.{name}.{j}"] for j in range(value["arrays"])]
                setattr(callback, name, _moved(value, moved_from, self.trial_dir))

    def _seeds(self) -> list[Any]:
        """The model's state beyond its weights: each random layer's seed generator state."""
        weights = {id(w) for w in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]


def _jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: NumPy scalars as numbers, tuples as lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _python_state(state: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = state
    return version, tuple(internal), gauss


def _moved(value: Any, old: str, new: str) -> Any:
    """Paths under the interrupted trial's folder, moved to the resuming trial's."""
    if isinstance(value, str) and old != new and value.startswith(old + os.sep):
        return new + value[len(old) :]
    if isinstance(value, list):
        return [_moved(v, old, new) for v in value]
    return value
