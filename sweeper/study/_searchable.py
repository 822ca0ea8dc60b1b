"""What a study knows of a callback spec: a Keras name and parameters, any of them searched.

The callback specs themselves (``sweeper.EarlyStopping`` and friends) live in
``sweeper.callbacks`` and subclass :class:`SearchableCallback`; the study needs
only this much of them, so the declaration does not depend on Keras callbacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

import optuna

from sweeper.study._space import is_search_space, suggest

# How a searched callback parameter is named in Optuna: "<KerasClass>.<param>" (see param_name).
CALLBACK_PARAM = re.compile(r"^[A-Z][A-Za-z0-9]*\.[a-z_0-9]+$")


class SearchableCallback:
    """A callback declared by name with parameters, each a fixed value or a search space.

    Args:
        params: The declared parameters, by name.
    """

    keras_name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def param_name(self, name: str) -> str:
        """The Optuna param name of a searched parameter, e.g. ``EarlyStopping.patience``."""
        return f"{self.keras_name}.{name}"

    def searched(self) -> dict[str, Any]:
        """The searched parameters, keyed by their Optuna param name."""
        return {self.param_name(k): v for k, v in self.params.items() if is_search_space(v)}

    def resolve(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """This trial's values of every parameter, with the classic defaults filled in."""
        values = dict(self.defaults)
        for name, value in self.params.items():
            values[name] = suggest(trial, self.param_name(name), value)
        return values


def searched_params(callbacks: Iterable[Any]) -> dict[str, Any]:
    """All searched callback parameters of a study, keyed by Optuna param name."""
    params: dict[str, Any] = {}
    for callback in callbacks:
        if isinstance(callback, SearchableCallback):
            params.update(callback.searched())
    return params
