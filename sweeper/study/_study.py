"""``sweeper.Study``: what a study file declares."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from sweeper._errors import StudyFileError
from sweeper.study._direction import MODES
from sweeper.study._searchable import SearchableCallback, searched_params

STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PRUNER_NAMES = ("median", "percentile", "hyperband", "successive_halving", "none")
SAMPLER_NAMES = ("tpe", "random", "grid")
# The K best trials' checkpoints a study keeps: enough to pick among the best models, few
# enough that a sweep of hundreds of trials needs the disk of five models, not hundreds.
DEFAULT_KEEP_CHECKPOINTS = 5
KEEP_ALL = "all"


@dataclass
class Study:
    """A sweep over a Keras model: data, model builder, search space and callbacks.

    A study file defines exactly one ``Study`` at module level.

    Args:
        name: The study's name; its runs go to ``runs/<name>/`` and its reports to
            ``reports/<name>/``.
        data: Returns ``((x_train, y_train), (x_val, y_val))``, or a pair of batched
            ``tf.data.Dataset``; called once per worker process.
        model: Builds and compiles a ``keras.Model`` from an Optuna trial, which
            suggests the model's hyperparameters.
        monitor: The logged quantity to optimise. Its direction follows Keras's
            ``mode="auto"`` rule unless ``mode`` says otherwise. Defaults to
            ``"val_loss"``.
        epochs: The most epochs a trial trains. Defaults to ``20``.
        batch_size: The fit's batch size (ignored for datasets). Defaults to ``32``.
        n_trials: How many finished trials the study should hold. Defaults to ``20``.
        pruner: ``"median"``, ``"percentile"``, ``"hyperband"``,
            ``"successive_halving"``, ``"none"``, ``None`` or an Optuna pruner.
            Defaults to ``"median"``.
        sampler: ``"tpe"``, ``"random"``, ``"grid"`` (over the searched callback
            parameters) or an Optuna sampler. Defaults to ``"tpe"``.
        seed: Seeds the sampler and each trial's weights. Defaults to ``None``.
        callbacks: ``sweeper`` callback specs and plain Keras callbacks (deep-copied
            for each trial). Defaults to none.
        repeats: Runs each configuration this many times with seeds ``seed``,
            ``seed + 1``, ..., so settings are compared on the same initialisations.
            Defaults to ``1``.
        mode: ``"auto"``, ``"min"`` or ``"max"``. Defaults to ``"auto"``.
        timeout: Stop starting trials after this many seconds. Defaults to ``None``.
        epoch_budget: Stop starting trials once the study's trials have trained this
            many epochs in all, pruned, early-stopped and interrupted ones included.
            With pruning, the same compute then buys more trials; ``n_trials`` still
            caps their number. Trials already running finish, and a retry still
            queued when the budget is spent does not run. Defaults to ``None``.
        trial_timeout: Stop a trial at the first batch end past this many seconds. It
            ends with stop reason ``timeout``, COMPLETE with its best value so far (FAIL
            if no epoch ended), and is not retried. A trial that reaches no batch end for
            the limit plus a grace period (60 s) is hung: its worker is killed and
            replaced, and it ends FAIL ``timeout``. Defaults to ``None``.
        retries: Times a trial whose worker process died (killed, crashed, out of
            memory) runs again with the same params. Defaults to ``1``.
        fail_fast: Stop the sweep (exit code 1) once this many trials have failed
            in user code and none has succeeded, so a study that cannot work does
            not burn hours; ``None`` or ``0`` never stops. Defaults to ``3``.
        keep_checkpoints: How many of the study's best COMPLETE trials keep their
            checkpoints (as files and as Optuna artifacts); the others' are deleted when
            they fall out of the K best, and pruned and failed trials' when they end.
            ``"all"`` (or ``None``) keeps every checkpoint. Defaults to ``5``.
        fit_kwargs: Extra keyword arguments for ``model.fit``. Defaults to none.
    """

    name: str
    data: Callable[[], Any]
    model: Callable[[Any], Any]
    monitor: str = "val_loss"
    epochs: int = 20
    batch_size: int | None = 32
    n_trials: int = 20
    pruner: Any = "median"
    sampler: Any = "tpe"
    seed: int | None = None
    callbacks: Sequence[Any] = ()
    repeats: int = 1
    mode: str = "auto"
    timeout: float | None = None
    epoch_budget: int | None = None
    trial_timeout: float | None = None
    retries: int = 1
    fail_fast: int | None = 3
    keep_checkpoints: int | str | None = DEFAULT_KEEP_CHECKPOINTS
    fit_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.callbacks = tuple(self.callbacks)
        self.fit_kwargs = dict(self.fit_kwargs or {})
        self.keep_checkpoints = keep_checkpoints_value("Study keep_checkpoints", self.keep_checkpoints)
        for check in (
            self._check_name,
            self._check_callables,
            self._check_numbers,
            self._check_algorithms,
            self._check_callbacks,
        ):
            check()

    def _check_name(self) -> None:
        problem = _name_problem(self.name)
        if problem:
            raise StudyFileError(
                f"Study name={self.name!r} {problem}; it names the folders runs/<name>/ and reports/<name>/.",
                fix="use letters, digits, '_', '-' and '.', starting with a letter or digit, e.g. name='digits'.",
            )

    def _check_callables(self) -> None:
        for field_name in ("data", "model"):
            if not callable(getattr(self, field_name)):
                raise StudyFileError(
                    f"Study {field_name}= must be a function, got {type(getattr(self, field_name)).__name__}.",
                    fix=f"pass the function itself, e.g. {field_name}=load_data (without calling it).",
                )
        if not isinstance(self.monitor, str) or not self.monitor:
            raise StudyFileError(
                f"Study monitor={self.monitor!r} must be a metric name.", fix="e.g. monitor='val_accuracy'."
            )
        if self.mode not in MODES:
            raise StudyFileError(f"Study mode={self.mode!r} is not one of {MODES}.", fix="use 'auto', 'min' or 'max'.")

    def _check_numbers(self) -> None:
        for field_name in ("epochs", "n_trials", "repeats"):
            _require_positive_int(field_name, getattr(self, field_name))
        for field_name in ("batch_size", "epoch_budget"):
            if getattr(self, field_name) is not None:
                _require_positive_int(field_name, getattr(self, field_name))
        if not (_is_int(self.retries) and self.retries >= 0):
            raise StudyFileError(
                f"Study retries={self.retries!r} must be a whole number, 0 or more.", fix="e.g. retries=1."
            )
        if self.fail_fast is not None and not (_is_int(self.fail_fast) and self.fail_fast >= 0):
            raise StudyFileError(
                f"Study fail_fast={self.fail_fast!r} must be a whole number or None.",
                fix="e.g. fail_fast=3, or None to never stop.",
            )
        if self.seed is not None and not _is_int(self.seed):
            raise StudyFileError(f"Study seed={self.seed!r} must be an integer or None.", fix="e.g. seed=0.")
        for field_name in ("timeout", "trial_timeout"):
            value = getattr(self, field_name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
                raise StudyFileError(
                    f"Study {field_name}={value!r} must be a positive number of seconds.",
                    fix=f"e.g. {field_name}=3600.",
                )
        reserved = {"x", "y", "epochs", "batch_size", "validation_data", "callbacks"} & set(self.fit_kwargs)
        if reserved:
            raise StudyFileError(
                f"Study fit_kwargs sets {sorted(reserved)}, which sweeper sets itself.",
                fix="use the Study fields epochs=, batch_size=, callbacks= and data= instead.",
            )

    def _check_algorithms(self) -> None:
        pruner_ok = (
            self.pruner is None or self.pruner in PRUNER_NAMES or isinstance(self.pruner, optuna.pruners.BasePruner)
        )
        if not pruner_ok:
            raise StudyFileError(
                f"Study pruner={self.pruner!r} is unknown.", fix=f"use one of {PRUNER_NAMES}, None or an optuna pruner."
            )
        sampler_ok = (
            self.sampler is None
            or self.sampler in SAMPLER_NAMES
            or isinstance(self.sampler, optuna.samplers.BaseSampler)
        )
        if not sampler_ok:
            raise StudyFileError(
                f"Study sampler={self.sampler!r} is unknown.", fix=f"use one of {SAMPLER_NAMES} or an optuna sampler."
            )
        if self.sampler == "grid" and not self.searched_callback_params():
            raise StudyFileError(
                "Study sampler='grid' needs searched callback parameters to grid over.",
                fix="give a callback parameter sweeper.choice(...), or pass an optuna.samplers.GridSampler.",
            )

    def _check_callbacks(self) -> None:
        seen: set[str] = set()
        for callback in self.callbacks:
            if isinstance(callback, SearchableCallback):
                if callback.keras_name in seen:
                    raise StudyFileError(
                        f"Study callbacks has two {callback.keras_name} specs; "
                        "their searched params would share names.",
                        fix=f"keep one {callback.keras_name}.",
                    )
                seen.add(callback.keras_name)
                continue
            if not _is_keras_callback(callback):
                raise StudyFileError(
                    f"Study callbacks has {callback!r}, "
                    "which is neither a sweeper callback spec nor a keras.callbacks.Callback.",
                    fix="use sweeper.EarlyStopping(...) and friends, or a Keras callback instance.",
                )

    def searched_callback_params(self) -> dict[str, Any]:
        """The searched callback parameters, keyed by Optuna param name."""
        return searched_params(self.callbacks)

    def fresh_user_callbacks(self) -> list[Any]:
        """Deep copies of the plain Keras callbacks, one set per trial."""
        return [copy.deepcopy(c) for c in self.callbacks if not isinstance(c, SearchableCallback)]


def _name_problem(name: Any) -> str | None:
    """What keeps ``name`` from being a study name, in words; ``None`` for a good name."""
    if not isinstance(name, str):
        return f"is not a string but {type(name).__name__}"
    if not name:
        return "is empty"
    if STUDY_NAME.match(name):
        return None
    if not name[0].isalnum():
        return f"starts with {name[0]!r}"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_.-"))}, key=name.index)
    return "contains " + ", ".join("a space" if c == " " else repr(c) for c in bad)


def keep_checkpoints_value(name: str, value: Any) -> int | None:
    """A ``keep_checkpoints`` value as a count, or ``None`` for all, checked.

    Args:
        name: How to name it in an error, e.g. ``"--keep-checkpoints"``.
        value: A whole number 0 or more, ``"all"`` or ``None``.

    Raises:
        StudyFileError: For anything else.
    """
    if value is None or value == KEEP_ALL:
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)  # from the command line
    if _is_int(value) and value >= 0:
        return value
    raise StudyFileError(
        f"{name}={value!r} must be a whole number 0 or more, or 'all'.",
        fix=f"e.g. {name}={DEFAULT_KEEP_CHECKPOINTS} keeps the {DEFAULT_KEEP_CHECKPOINTS} best trials' checkpoints.",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_positive_int(field_name: str, value: Any) -> None:
    if not (_is_int(value) and value > 0):
        raise StudyFileError(f"Study {field_name}={value!r} must be a positive integer.", fix=f"e.g. {field_name}=10.")


def _is_keras_callback(value: Any) -> bool:
    return any(cls.__name__ == "Callback" and "keras" in cls.__module__ for cls in type(value).__mro__)
