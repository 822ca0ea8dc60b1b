"""A study's reports: the tables in pandas, and the files under ``reports/<study>/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from sweeper._catalog import StudyRef, best_trial, find_study, load_optuna_study
from sweeper.reports._epochs import epochs_frame
from sweeper.reports._settings import settings_frame
from sweeper.reports._trials import trials_frame


@dataclass(frozen=True)
class Report:
    """Everything the reports show about one study.

    Args:
        study_name: The study's name.
        monitor: The monitored quantity, e.g. ``"val_accuracy"``.
        mode: ``"max"`` or ``"min"``.
        trials: One row per trial (``trials.csv``).
        epochs: One row per (trial, epoch), from TensorBoard (``epochs.csv``).
        settings: One row per combination of callback settings (``settings.csv``).
        importances: Optuna's parameter importances, or empty when there are too
            few completed trials to compute them.
    """

    study_name: str
    monitor: str
    mode: str
    trials: pd.DataFrame
    epochs: pd.DataFrame
    settings: pd.DataFrame
    importances: dict[str, float]

    @property
    def best(self) -> pd.Series | None:
        """The best COMPLETE trial's row, or ``None``."""
        complete = self.trials[self.trials["state"] == "COMPLETE"].dropna(subset=["value"])
        if complete.empty:
            return None
        index = complete["value"].idxmax() if self.mode == "max" else complete["value"].idxmin()
        return complete.loc[index]


def load_report(study: str, runs_dir: str | Path = "runs", storage: str | None = None) -> Report:
    """The report tables of a study, as DataFrames, without writing anything.

    Args:
        study: A study file or a study name.
        runs_dir: The runs folder. Defaults to ``"runs"``.
        storage: The storage; defaults to the study's journal under ``runs_dir``.

    Returns:
        The report.
    """
    ref = find_study(study, runs_dir, storage)
    return build_report(ref, load_optuna_study(ref))


def build_report(ref: StudyRef, study: optuna.Study) -> Report:
    """Gathers a study's tables from its storage and its TensorBoard logs."""
    mode = study.user_attrs.get("mode") or ("max" if study.direction.name == "MAXIMIZE" else "min")
    trials = trials_frame(study)
    return Report(
        study_name=ref.name,
        monitor=study.user_attrs.get("monitor", "value"),
        mode=mode,
        trials=trials,
        epochs=epochs_frame(trials, ref.study_dir / "trials"),
        settings=settings_frame(trials, mode),
        importances=_importances(study),
    )


def import_report_libraries() -> None:
    """Imports what the reports need beyond pandas: about 2 s of CPU, paid once per process.

    Parameter importances import scikit-learn and SciPy (Optuna's fANOVA), and the
    HTML report imports matplotlib. The driver calls this once a worker has no trial
    left to run, on the core it leaves idle, so that the reports at the end of a sweep
    do not keep the user waiting for it.
    """
    import optuna.importance  # noqa: F401
    import sweeper.reports._html  # noqa: F401


# Below this many completed trials, importances are noise and Optuna warns as much.
MIN_TRIALS_FOR_IMPORTANCES = 2


def _importances(study: optuna.Study) -> dict[str, float]:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCES:
        return {}
    try:
        return optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError):
        return {}  # too few completed trials, or a single distinct value per param


def write_report(report: Report, report_dir: Path) -> dict[str, Path]:
    """Writes ``trials.csv``, ``epochs.csv``, ``settings.csv`` and ``report.html``.

    Each file is written to a temporary name first and then renamed, so a reader
    never sees half a report.

    Args:
        report: The report.
        report_dir: ``reports/<study>``.

    Returns:
        The written paths by name.
    """
    from sweeper.reports._html import render_html

    report_dir.mkdir(parents=True, exist_ok=True)
    contents: dict[str, Any] = {
        "trials.csv": report.trials.to_csv(index=False),
        "epochs.csv": report.epochs.to_csv(index=False),
        "settings.csv": report.settings.to_csv(),
        "report.html": render_html(report),
    }
    return {name: _write_atomically(report_dir / name, text) for name, text in contents.items()}


def _write_atomically(path: Path, text: str) -> Path:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)
    return path
