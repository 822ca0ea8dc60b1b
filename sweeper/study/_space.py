"""Search spaces for study and callback parameters.

Any callback parameter may be a fixed value or one of these spaces. A searched
parameter becomes an Optuna param of the trial, so it shows up in ``trial.params``, in
the Optuna dashboard and in the reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

__all__ = ["Choice", "FloatRange", "IntRange", "choice", "float_range", "int_range"]


@dataclass(frozen=True)
class Choice:
    """A categorical choice among fixed values."""

    values: tuple[Any, ...]

    def to_distribution(self) -> BaseDistribution:
        return CategoricalDistribution(self.values)

    def grid(self) -> list[Any]:
        return list(self.values)


@dataclass(frozen=True)
class IntRange:
    """Integers from ``low`` to ``high`` inclusive."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    def to_distribution(self) -> BaseDistribution:
        return IntDistribution(self.low, self.high, log=self.log, step=self.step)

    def grid(self) -> list[Any]:
        if self.log:
            raise ValueError("a log-scaled range has no grid; use sweeper.choice(...)")
        return list(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class FloatRange:
    """Floats from ``low`` to ``high``."""

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def to_distribution(self) -> BaseDistribution:
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def grid(self) -> list[Any]:
        if self.step is None:
            raise ValueError("a continuous float range has no grid; use sweeper.choice(...)")
        count = int(round((self.high - self.low) / self.step)) + 1
        return [self.low + i * self.step for i in range(count)]


SearchSpace = Choice | IntRange | FloatRange | BaseDistribution


def choice(*values: Any) -> Choice:
    """A categorical search space: each trial takes one of ``values``.

    Args:
        *values: The candidate values: numbers, strings, booleans or ``None``.

    Returns:
        The search space, to pass as a callback or study parameter.
    """
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = tuple(values[0])
    if not values:
        raise ValueError("choice() needs at least one value, e.g. sweeper.choice(3, 6, 10)")
    return Choice(tuple(values))


def int_range(low: int, high: int, *, step: int = 1, log: bool = False) -> IntRange:
    """An integer search space from ``low`` to ``high`` inclusive.

    Args:
        low: The smallest value.
        high: The largest value.
        step: The spacing between values. Defaults to ``1``.
        log: Sample on a log scale. Defaults to ``False``.

    Returns:
        The search space.
    """
    if low > high:
        raise ValueError(f"int_range needs low <= high, got {low=}, {high=}")
    if log and low < 1:
        raise ValueError(f"a log-scaled int_range needs low >= 1, got {low=}")
    return IntRange(int(low), int(high), int(step), bool(log))


def float_range(low: float, high: float, *, step: float | None = None, log: bool = False) -> FloatRange:
    """A float search space from ``low`` to ``high``.

    Args:
        low: The smallest value.
        high: The largest value.
        step: Discretise to multiples of ``step`` from ``low``. Defaults to ``None``
            (continuous).
        log: Sample on a log scale. Defaults to ``False``.

    Returns:
        The search space.
    """
    if not low <= high:
        raise ValueError(f"float_range needs low <= high, got {low=}, {high=}")
    if log and low <= 0:
        raise ValueError(f"a log-scaled float_range needs low > 0, got {low=}")
    if log and step is not None:
        raise ValueError("float_range cannot combine step and log")
    return FloatRange(float(low), float(high), step, bool(log))


def is_search_space(value: Any) -> bool:
    """Whether ``value`` is a search space rather than a fixed value."""
    return isinstance(value, (Choice, IntRange, FloatRange, BaseDistribution))


def to_distribution(space: SearchSpace) -> BaseDistribution:
    """The Optuna distribution of a search space."""
    if isinstance(space, BaseDistribution):
        return space
    return space.to_distribution()


def grid_values(space: SearchSpace) -> list[Any]:
    """The values a grid search visits for ``space``."""
    if isinstance(space, CategoricalDistribution):
        return list(space.choices)
    if isinstance(space, IntDistribution) and not space.log:
        return list(range(space.low, space.high + 1, space.step))
    if isinstance(space, BaseDistribution):
        raise ValueError(f"{space!r} has no grid; use sweeper.choice(...)")
    return space.grid()


def suggest(trial: optuna.trial.BaseTrial, name: str, value: Any) -> Any:
    """Returns ``value`` itself, or the trial's sample from it when it is a search space.

    Args:
        trial: The trial that samples.
        name: The Optuna param name, e.g. ``"EarlyStopping.patience"``.
        value: A fixed value or a search space.

    Returns:
        The value this trial uses.
    """
    if not is_search_space(value):
        return value
    distribution = to_distribution(value)
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    raise TypeError(f"unsupported distribution for {name}: {distribution!r}")


def candidate_values(value: Any) -> Sequence[Any]:
    """The values a parameter may take, for validating them all up front.

    A continuous range yields its two bounds, which is enough for monotone checks.
    """
    if not is_search_space(value):
        return [value]
    distribution = to_distribution(value)
    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    return [distribution.low, distribution.high]
