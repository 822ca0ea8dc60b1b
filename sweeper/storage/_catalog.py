"""Finding studies that already ran: by study file or by name, under a runs folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from sweeper._errors import StudyFileError
from sweeper.storage._open import JOURNAL_FILENAME, default_storage, is_rdb_url, open_storage
from sweeper.storage._redact import redact
from sweeper.study._peek import peek_study_file


@dataclass(frozen=True)
class StudyRef:
    """Where a study lives.

    Args:
        name: The study's name.
        storage: Its Optuna storage.
        runs_dir: Its runs folder.
    """

    name: str
    storage: str
    runs_dir: Path

    @property
    def study_dir(self) -> Path:
        return self.runs_dir / self.name


def find_study(study: str, runs_dir: str | Path = "runs", storage: str | None = None) -> StudyRef:
    """Resolves a study file or a study name to where the study's runs live.

    Args:
        study: A study file (``studies/digits.py``) or a study name (``digits``).
        runs_dir: The runs folder. Defaults to ``"runs"``.
        storage: The storage; defaults to the study's journal under ``runs_dir``.

    Returns:
        The study's location.

    Raises:
        StudyFileError: When no such study has run.
    """
    runs_path = Path(runs_dir).resolve()
    name = _name_in_file(Path(study)) if study.endswith(".py") else study
    storage = storage or _journal_holding(name, runs_path)
    if not _has_study(storage, name):
        known = ", ".join(list_studies(runs_path)["study"]) or "none"
        raise StudyFileError(
            f"no study named {name!r} in {redact(storage)} (studies under {runs_path}: {known}).",
            source=study,
            fix="run `sweeper run STUDY.py` first, or pass --runs-dir/--storage where it ran.",
        )
    return StudyRef(name, storage, runs_path)


def load_optuna_study(ref: StudyRef) -> optuna.Study:
    """The Optuna study behind ``ref``."""
    return optuna.load_study(study_name=ref.name, storage=open_storage(ref.storage))


def _journal_holding(name: str, runs_path: Path) -> str:
    """The study's own journal, ``runs/<name>/journal.log``; else another journal under the runs folder that holds it.

    A confirm study lives in the storage of the study it confirms (``runs/<study>/journal.log``).
    """
    own = default_storage(runs_path / name)
    if _has_study(own, name):
        return own
    for journal in sorted(runs_path.glob(f"*/{JOURNAL_FILENAME}")):
        if _has_study(str(journal), name):
            return str(journal)
    return own


def _has_study(storage: str, name: str) -> bool:
    if not is_rdb_url(storage) and not Path(storage).exists():
        return False
    summaries = optuna.get_all_study_names(storage=open_storage(storage))
    return name in summaries


def _name_in_file(path: Path) -> str:
    """The study name a study file declares: read without running the file where it is a literal."""
    name = peek_study_file(path).name
    if isinstance(name, str):
        return name
    from sweeper.study._loader import load_study_file  # runs the file: imports its framework

    return load_study_file(path).name


def list_studies(runs_dir: str | Path = "runs") -> pd.DataFrame:
    """Every study with a journal under ``runs_dir``, with its trial counts and best value.

    Args:
        runs_dir: The runs folder. Defaults to ``"runs"``.

    Returns:
        Columns ``study``, ``trials``, ``complete``, ``pruned``, ``failed``,
        ``running``, ``best_value``, ``best_trial`` and ``storage``.
    """
    rows = []
    for journal in sorted(Path(runs_dir).glob(f"*/{JOURNAL_FILENAME}")):
        storage = str(journal.resolve())
        for name in optuna.get_all_study_names(storage=open_storage(storage)):
            rows.append(_summary(StudyRef(name, storage, Path(runs_dir).resolve())))
    columns = ["study", "trials", "complete", "pruned", "failed", "running", "best_value", "best_trial", "storage"]
    return pd.DataFrame(rows, columns=columns)


def _summary(ref: StudyRef) -> dict[str, object]:
    study = load_optuna_study(ref)
    trials = study.get_trials(deepcopy=False)
    best = best_trial(study)
    count = lambda state: sum(t.state == state for t in trials)  # noqa: E731
    return {
        "study": ref.name,
        "trials": len(trials),
        "complete": count(TrialState.COMPLETE),
        "pruned": count(TrialState.PRUNED),
        "failed": count(TrialState.FAIL),
        "running": count(TrialState.RUNNING),
        "best_value": None if best is None else best.value,
        "best_trial": None if best is None else best.number,
        "storage": redact(ref.storage),
    }


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best COMPLETE trial, or ``None`` when there is none yet; on a tie, the lowest number.

    Args:
        study: The study.

    Returns:
        The trial.
    """
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return best_complete(study.get_trials(deepcopy=False), maximize)


def best_complete(trials: list[FrozenTrial], maximize: bool) -> FrozenTrial | None:
    """The best COMPLETE trial of ``trials``; of equal values, the lowest trial number.

    One tie rule everywhere sweeper names a best trial: the progress line, ``sweeper
    best``, ``sweeper ls`` and the reports. (Optuna's own ``best_trial`` leaves ties to
    the storage's order.)

    Args:
        trials: Trials in any states.
        maximize: Whether a larger value is better.

    Returns:
        The trial, or ``None`` when none is COMPLETE.
    """
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        return None
    sign = -1.0 if maximize else 1.0
    return min(complete, key=lambda t: (sign * t.value, t.number))
