"""``epochs.csv``: one row per (trial, epoch), read from the trials' TensorBoard event files."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from sweeper.logs import read_tensorboard

EPOCH_TAG_PREFIX = "epoch_"
VALIDATION_RUN = "validation"


def epochs_frame(trials: pd.DataFrame, trials_root: Path) -> pd.DataFrame:
    """Every trial's per-epoch scalars, named as Keras names them in ``history``.

    Keras 3's TensorBoard callback logs ``epoch_<name>`` in a ``train`` and a
    ``validation`` run; here they become ``<name>`` and ``val_<name>``, e.g.
    ``loss``, ``val_accuracy``, ``learning_rate``.

    Args:
        trials: The trials table; its ``logdir`` column maps runs to trials.
        trials_root: ``runs/<study>/trials``, read in one pass. Log folders outside
            it (a user's absolute ``log_dir``) are read one by one.

    Returns:
        Columns ``trial``, ``epoch`` (0-based, as TensorBoard steps), then one
        column per scalar, sorted by name.
    """
    logdirs = trials.dropna(subset=["logdir"]).set_index("trial")["logdir"]
    inside = {
        _relative(logdir, trials_root): trial for trial, logdir in logdirs.items() if _is_under(logdir, trials_root)
    }
    parts = [_scalars(read_tensorboard(trials_root), inside)] if inside and trials_root.is_dir() else []
    for trial, logdir in logdirs.items():
        if not _is_under(logdir, trials_root) and Path(logdir).is_dir():
            parts.append(_scalars(read_tensorboard(logdir), {".": trial}))
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["trial", "epoch", "name", "value"])
    wide = long.pivot_table(index=["trial", "epoch"], columns="name", values="value", aggfunc="last")
    wide.columns.name = None
    return wide.reset_index().astype({"trial": "int64", "epoch": "int64"})


def _scalars(long: pd.DataFrame, trial_of_logdir: dict[str, int]) -> pd.DataFrame:
    long = long[long["tag"].str.startswith(EPOCH_TAG_PREFIX)]
    logdir, _, split = long["run"].str.rpartition("/").T.to_numpy()
    name = long["tag"].str.removeprefix(EPOCH_TAG_PREFIX)
    frame = pd.DataFrame(
        {
            "trial": pd.Series(logdir, index=long.index).replace("", ".").map(trial_of_logdir),
            "epoch": long["step"],
            "name": name.where(pd.Series(split, index=long.index) != VALIDATION_RUN, "val_" + name),
            "value": long["value"],
        }
    )
    return frame.dropna(subset=["trial"])


def _is_under(path: str, root: Path) -> bool:
    return Path(path).resolve().is_relative_to(root.resolve())


def _relative(path: str, root: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), root.resolve())).as_posix()
