"""Creating a sweep's Optuna study from the probe, or loading it to resume."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import optuna

from sweeper._errors import StudyFileError
from sweeper.search._samplers import make_sampler
from sweeper.study._loader import load_study_file
from sweeper.trial._outcome import ProbeResult


def open_or_create_study(
    probe: ProbeResult,
    storage: optuna.storages.BaseStorage,
    sampler: optuna.samplers.BaseSampler,
    shown_storage: str,
) -> optuna.Study:
    """Creates the Optuna study, or loads it to resume, checking its direction.

    A new study records its monitor and mode, and gets every planned trial (a grid
    study's cells × repeats) enqueued.

    Args:
        probe: What the probe found out about the study file.
        storage: The opened storage.
        sampler: The sampler that asks for trials.
        shown_storage: The storage as messages show it (password redacted).

    Returns:
        The study.

    Raises:
        StudyFileError: When a study of that name exists with the opposite direction.
    """
    try:
        existing = optuna.load_study(study_name=probe.name, storage=storage, sampler=sampler)
    except KeyError:
        return _create(probe, storage, sampler)
    if existing.direction.name.lower() != probe.direction:
        raise StudyFileError(
            f"study {probe.name!r} in {shown_storage} was created to {existing.direction.name.lower()} "
            f"{existing.user_attrs.get('monitor', 'its monitor')}, "
            f"but monitor={probe.monitor!r} would {probe.direction} it.",
            fix="give the study a new name, or point --storage elsewhere.",
        )
    name_metric(existing, probe.monitor)  # a study created before sweeper named it
    return existing


def _create(
    probe: ProbeResult, storage: optuna.storages.BaseStorage, sampler: optuna.samplers.BaseSampler
) -> optuna.Study:
    created = optuna.create_study(study_name=probe.name, storage=storage, sampler=sampler, direction=probe.direction)
    created.set_user_attr("monitor", probe.monitor)
    created.set_user_attr("mode", probe.mode)
    name_metric(created, probe.monitor)
    for params, user_attrs in probe.planned_trials:
        created.enqueue_trial(params, user_attrs=user_attrs)
    return created


def name_metric(study: optuna.Study, monitor: str) -> None:
    """Names the study's objective after its monitor, so optuna-dashboard shows ``val_accuracy``, not "Objective 0"."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if study.metric_names != [monitor]:
            study.set_metric_names([monitor])


def driver_sampler(probe: ProbeResult, study_path: Path) -> optuna.samplers.BaseSampler:
    """The sampler that asks for trials, sent over by the probe.

    A sampler that does not pickle (its class lives in the study file) is rebuilt
    by loading the study file here, at the cost of a TensorFlow import.

    Args:
        probe: The probe's result, holding the pickled sampler.
        study_path: The study file.

    Returns:
        The sampler.
    """
    if probe.sampler is not None:
        try:
            return pickle.loads(probe.sampler)
        except Exception:
            pass
    return make_sampler(load_study_file(study_path))
