"""Building a trial's model from the study, and releasing it afterwards."""

from __future__ import annotations

from typing import Any

import keras
import optuna

from sweeper._errors import StudyFileError
from sweeper.callbacks import CallbackSpec
from sweeper.study._study import Study


def callback_specs(study: Study) -> list[CallbackSpec]:
    """The study's sweeper callback specs, without its plain Keras callbacks."""
    return [c for c in study.callbacks if isinstance(c, CallbackSpec)]


def build_model(study: Study, trial: optuna.trial.BaseTrial) -> Any:
    """``study.model(trial)``, checked to be a compiled ``keras.Model``.

    Raises:
        StudyFileError: When the model function returns anything else.
    """
    model = study.model(trial)
    if not isinstance(model, keras.Model):
        raise StudyFileError(
            f"model() returned {type(model).__name__}, not a keras.Model.", fix="return the compiled model."
        )
    if not getattr(model, "compiled", False):
        raise StudyFileError(
            "model() returned a model that is not compiled.", fix="call model.compile(...) before returning it."
        )
    return model


def release_memory() -> None:
    """Ends the trial's Keras session, so the next trial starts from a clean graph."""
    # free_memory=False: Keras's default runs gc.collect(), ~0.5 s a trial that frees
    # nothing TensorFlow leaks (measured); the pool replaces a worker that outgrows its
    # memory budget instead (sweeper.backends.local._recycle).
    keras.backend.clear_session(free_memory=False)
