"""The base of sweeper's callback specs: classic Keras parameters, any of them searchable.

A spec is what a study file declares (``sw.EarlyStopping(patience=sw.choice(3, 6))``).
Each trial resolves it to concrete values and builds a fresh Keras callback from them,
as keras-tuner's ``run_trial`` does, so no state leaks from one trial to the next.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sweeper._errors import StudyFileError, SweeperDeprecationWarning
from sweeper.study._direction import MODES
from sweeper.study._searchable import SearchableCallback
from sweeper.study._space import candidate_values


@dataclass(frozen=True)
class TrialPaths:
    """Where one trial keeps its artifacts.

    Args:
        trial_dir: ``runs/<study>/trials/<number>``.
        number: The trial's number.
    """

    trial_dir: Path
    number: int

    @property
    def tensorboard(self) -> Path:
        return self.trial_dir / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        return self.trial_dir / "checkpoints"


@dataclass(frozen=True)
class BuildContext:
    """What a spec needs, besides its own values, to build a trial's callback.

    Args:
        paths: The trial's artifact folders.
        monitor: The study's monitored quantity.
        mode: The study's resolved direction, ``"min"`` or ``"max"``.
    """

    paths: TrialPaths
    monitor: str
    mode: str


@dataclass(frozen=True)
class Rule:
    """What a parameter's every possible value must satisfy."""

    holds: Callable[[Any], bool]
    description: str


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


NON_NEGATIVE_INT = Rule(lambda v: is_int(v) and v >= 0, "an integer >= 0")
POSITIVE_INT = Rule(lambda v: is_int(v) and v >= 1, "an integer >= 1")
NON_NEGATIVE_NUMBER = Rule(lambda v: is_number(v) and v >= 0, "a number >= 0")
NUMBER_OR_NONE = Rule(lambda v: v is None or is_number(v), "a number or None")
BOOLEAN = Rule(lambda v: isinstance(v, bool), "True or False")
MODE = Rule(lambda v: v in MODES, f"one of {MODES}")
MONITOR = Rule(lambda v: v is None or isinstance(v, str), "a logged metric name")


class CallbackSpec(SearchableCallback):
    """A Keras callback declared with classic parameters, each fixed or searched.

    Subclasses list the classic parameters with their defaults in ``defaults``,
    the ones Keras 3 renamed in ``renamed`` and the ones it dropped in ``removed``
    (each with the message that says what replaced it).

    Args:
        **params: Classic Keras parameters; any value may be a search space.

    Raises:
        StudyFileError: For an unknown parameter or an invalid value.
    """

    keras_name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]]
    rules: ClassVar[dict[str, Rule]] = {}
    renamed: ClassVar[dict[str, str]] = {}
    removed: ClassVar[dict[str, str]] = {}

    def __init__(self, **params: Any) -> None:
        super().__init__(self._normalise(params))
        for name, value in self.params.items():
            for candidate in candidate_values(value):
                self._check(name, candidate)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"sweeper.{self.keras_name}({args})"

    def _normalise(self, params: dict[str, Any]) -> dict[str, Any]:
        normalised = {}
        for name, value in params.items():
            if name in self.removed:
                _warn(f"{self.keras_name}({name}=...) is ignored: {self.removed[name]}")
                continue
            if name in self.renamed:
                new_name = self.renamed[name]
                _warn(f"{self.keras_name}({name}=...) is the old name of {new_name}; using {new_name}.")
                if new_name in params:
                    raise self._error(f"{name} and {new_name} are the same parameter.", f"pass only {new_name}.")
                name = new_name
            if name not in self.defaults:
                raise self._unknown(name)
            normalised[name] = value
        return normalised

    def _unknown(self, name: str) -> StudyFileError:
        import difflib

        valid = sorted(self.defaults)
        close = difflib.get_close_matches(name, valid, n=1)
        fix = f"did you mean {close[0]}? " if close else ""
        return self._error(f"unknown parameter {name!r}.", f"{fix}valid parameters: {', '.join(valid)}.")

    def _error(self, message: str, fix: str | None = None) -> StudyFileError:
        return StudyFileError(f"{self.keras_name}: {message}", fix=fix)

    def _check(self, name: str, value: Any) -> None:
        """Raises a StudyFileError when ``value`` breaks the parameter's rule.

        Called for every value a parameter may take, fixed or searched.
        """
        rule = self.rules.get(name)
        if rule is not None and not rule.holds(value):
            raise self._error(
                f"{name}={value!r} is invalid: {name} must be {rule.description}.",
                f"give {name} a value that is {rule.description}.",
            )

    def build(self, values: dict[str, Any], context: BuildContext) -> Any:
        """A fresh Keras callback for one trial.

        Args:
            values: The trial's values, from :meth:`resolve`.
            context: The trial's folders and the study's monitor.

        Returns:
            A ``keras.callbacks.Callback``.
        """
        raise NotImplementedError

    @staticmethod
    def monitor_and_mode(values: dict[str, Any], context: BuildContext) -> tuple[str, str]:
        """The monitor a callback watches and its mode.

        A callback that names no monitor watches the study's, with the study's
        resolved direction; one that names its own keeps Keras's ``auto`` rule.
        """
        monitor = values.get("monitor") or context.monitor
        mode = values.get("mode", "auto")
        if monitor == context.monitor and mode == "auto":
            mode = context.mode
        return monitor, mode


class MonitoredKerasSpec(CallbackSpec):
    """A spec whose callback is the Keras callback of the same name, watching a monitor."""

    def build(self, values: dict[str, Any], context: BuildContext) -> Any:
        import keras

        monitor, mode = self.monitor_and_mode(values, context)
        return getattr(keras.callbacks, self.keras_name)(**{**values, "monitor": monitor, "mode": mode})


def trial_path(template: str, paths: TrialPaths, *, is_file: bool) -> Path:
    """Places a user's path so that every trial writes its own.

    Args:
        template: The user's path. ``{trial}`` in it becomes the trial number.
        paths: The trial's folders. A relative file lands in its ``checkpoints``
            folder, a relative folder in the trial's folder.
        is_file: Whether the path names a file rather than a folder.

    Returns:
        The trial's path. An absolute path without ``{trial}`` gets a folder named
        after the trial number, so that trials never overwrite each other.
    """
    if "{trial}" in template:
        path = Path(template.replace("{trial}", str(paths.number)))
    else:
        path = Path(template)
        if path.is_absolute():
            path = path.parent / str(paths.number) / path.name if is_file else path / str(paths.number)
    if path.is_absolute():
        return path
    return (paths.checkpoints if is_file else paths.trial_dir) / path


def _warn(message: str) -> None:
    warnings.warn(message, SweeperDeprecationWarning, stacklevel=4)
