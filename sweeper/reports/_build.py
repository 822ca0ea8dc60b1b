"""Building a study's ``Report`` from its storage and its trials' TensorBoard logs."""

from __future__ import annotations

from pathlib import Path

import optuna

from sweeper.reports._epochs import epochs_frame
from sweeper.reports._observations import observations_frame
from sweeper.reports._replay_tables import recorded_settings, replay_tables
from sweeper.reports._report import Report
from sweeper.reports._settings import callback_setting_columns, compare_settings
from sweeper.reports._trials import trials_frame
from sweeper.search._confirm import CONFIRM_ATTR
from sweeper.storage._catalog import StudyRef, find_study, load_optuna_study


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
    monitor = study.user_attrs.get("monitor", "value")
    trials = trials_frame(study)
    epochs = epochs_frame(trials, ref.study_dir / "trials")
    early_stopping = recorded_settings(study)
    replay = replay_tables(trials, epochs, early_stopping, monitor, mode)
    confirm = study.user_attrs.get(CONFIRM_ATTR)
    replayed = None
    if confirm and confirm.get("replayed"):
        # A confirm run trained the most patient setting: the others it compares come from the replay.
        grid = {name.split(".", 1)[1]: values for name, values in confirm["replayed"].items()}
        replayed = replay_tables(trials, epochs, early_stopping, monitor, mode, grid).table
    keys = callback_setting_columns(trials)
    observations = observations_frame(trials, keys, replay.table, early_stopping, replayed)
    settings = compare_settings(observations, keys, mode, confirm=bool(confirm))
    return Report(
        study_name=ref.name,
        monitor=monitor,
        mode=mode,
        trials=trials,
        epochs=epochs,
        settings=settings.table,
        importances=_importances(study),
        early_stopping=early_stopping,
        replay=replay.table,
        replay_summary=replay.summary,
        observations=observations,
        settings_notes=settings.notes,
        confirm_of=confirm.get("of") if confirm else None,
    )


def import_report_libraries() -> None:
    """Imports what the reports need beyond pandas: about 2 s of CPU, paid once per process.

    Parameter importances import scikit-learn and SciPy (Optuna's fANOVA), and the
    HTML report imports matplotlib. The driver calls this once a worker has no trial
    left to run, on the core it leaves idle, so that the reports at the end of a sweep
    do not keep the user waiting for it.
    """
    import optuna.importance  # noqa: F401

    import sweeper.reports._html  # noqa: F401  (matplotlib)


# Below this many completed trials, importances are noise and Optuna warns as much.
MIN_TRIALS_FOR_IMPORTANCES = 2


def _importances(study: optuna.Study) -> dict[str, float]:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCES:
        return {}
    # A param every trial shares (a confirm run's model params) explains nothing, yet Optuna's
    # default evaluator (PED-ANOVA) still credits it with importance: only the params that vary are asked about.
    varying = [name for name in _params(complete) if len({repr(t.params.get(name)) for t in complete}) > 1]
    if not varying:
        return {}
    try:
        return optuna.importance.get_param_importances(study, params=varying)
    except (ValueError, RuntimeError):
        return {}  # too few completed trials, or a single distinct value per param


def _params(trials: list[optuna.trial.FrozenTrial]) -> list[str]:
    """The params every trial has, as Optuna's importances need (its intersection search space)."""
    return sorted(set.intersection(*(set(trial.params) for trial in trials)))
