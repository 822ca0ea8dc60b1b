"""``sweeper.best``: a study's best trial, found by study file or name."""

from __future__ import annotations

import os

from optuna.trial import FrozenTrial

from sweeper.storage._catalog import best_trial, find_study, load_optuna_study


def best(study: str, *, runs_dir: str | os.PathLike[str] = "runs", storage: str | None = None) -> FrozenTrial | None:
    """The best COMPLETE trial of a study, as ``sweeper best`` shows it.

    Args:
        study: A study file (``studies/digits.py``) or a study name (``digits``).
        runs_dir: The runs folder. Defaults to ``"runs"``.
        storage: The storage. Defaults to the study's journal under ``runs_dir``.

    Returns:
        The trial, with its value, params and user attrs (``best_epoch``,
        ``checkpoint``, ``logdir``, ...), or ``None`` when none has completed.

    Raises:
        StudyFileError: When no such study has run.
    """
    return best_trial(load_optuna_study(find_study(study, runs_dir, storage)))
