"""Planning a confirm run: a study's best model configurations × the callback settings a replay cannot give × seeds.

EarlyStopping's ``patience``, ``min_delta`` and ``start_from_epoch`` can be read from a
trial's logged curve (``reports/_replay.py``), so a confirm run trains with the most
patient of their searched values and replays the others. Every other searched callback
setting (ReduceLROnPlateau's ``factor``, its ``patience``, ...) changes the training
itself, so each of its values trains, on the same seeds and model params as the rest:
the cells are paired, and their differences are the settings' own.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from sweeper._errors import StudyFileError
from sweeper.study._searchable import CALLBACK_PARAM

CONFIRM_ATTR = "confirm"
SEED_ATTR = "seed"
# The replayable EarlyStopping params, and which of their values stops last (trains the most).
REPLAYABLE = {"EarlyStopping.patience": max, "EarlyStopping.min_delta": min, "EarlyStopping.start_from_epoch": max}


@dataclass(frozen=True)
class ConfirmPlan:
    """A confirm run's trials, ready to enqueue.

    Args:
        name: The confirm study's name, ``<study>-confirm``.
        trials: ``(params, user_attrs)`` per trial: repeat-major, then model
            configuration, then cell, so a run cut short still covers every cell.
        configs: The model configurations confirmed, best first.
        grid: The trained callback settings and their values.
        replayed: The replayable EarlyStopping settings and the values the report reads
            from the replay.
        fixed: The value each replayable setting trains at: the one that stops last.
        top: ``--top`` as asked.
        repeats: ``--repeats`` as asked.
    """

    name: str
    trials: tuple[tuple[dict[str, Any], dict[str, Any]], ...]
    configs: tuple[dict[str, Any], ...]
    grid: dict[str, list[Any]]
    replayed: dict[str, list[Any]]
    fixed: dict[str, Any]
    top: int
    repeats: int

    def record(self, of: str) -> dict[str, Any]:
        """What the confirm study stores about itself (its ``confirm`` user attr)."""
        return {"of": of, "top": self.top, "repeats": self.repeats, "replayed": self.replayed, "grid": self.grid}


def confirm_name(study_name: str) -> str:
    """The name of the confirm study of ``study_name``."""
    return f"{study_name}-confirm"


def plan_confirm(study_name: str, trials: Sequence[FrozenTrial], maximize: bool, top: int, repeats: int) -> ConfirmPlan:
    """The confirm run of a finished study: its ``top`` best model configurations × grid × ``repeats`` seeds.

    Args:
        study_name: The study confirmed.
        trials: Its trials.
        maximize: Whether its direction is to maximise.
        top: How many of its best distinct model configurations to confirm.
        repeats: Seeds per (configuration, cell): ``0`` to ``repeats - 1``.

    Returns:
        The plan.

    Raises:
        StudyFileError: When the study has no COMPLETE trial, searched no callback
            setting, or searched one over a continuous range (which has no grid).
    """
    space = _callback_space(study_name, trials)
    configs = _best_configs(study_name, trials, maximize, top, set(space))
    grid = {name: _grid_of(name, distribution) for name, distribution in space.items() if name not in REPLAYABLE}
    replayed = {name: _grid_of(name, space[name]) for name in REPLAYABLE if name in space}
    fixed = {name: REPLAYABLE[name](values) for name, values in replayed.items()}
    cells = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    planned = tuple(
        ({**config, **cell, **fixed}, {"repeat": repeat, SEED_ATTR: repeat, "config": index})
        for repeat in range(repeats)
        for index, config in enumerate(configs)
        for cell in cells
    )
    return ConfirmPlan(confirm_name(study_name), planned, tuple(configs), grid, replayed, fixed, top, repeats)


def _callback_space(study_name: str, trials: Sequence[FrozenTrial]) -> dict[str, BaseDistribution]:
    """The searched callback params and their distributions, from the trials that suggested them."""
    space: dict[str, BaseDistribution] = {}
    for trial in trials:
        space.update({name: d for name, d in trial.distributions.items() if CALLBACK_PARAM.match(name)})
    if not space:
        raise StudyFileError(
            f"study {study_name!r} searched no callback setting, so a confirm run has nothing to compare.",
            fix="search one in the study file, e.g. sweeper.ReduceLROnPlateau(factor=sweeper.choice(0.2, 0.5)).",
        )
    return dict(sorted(space.items()))


def _best_configs(
    study_name: str, trials: Sequence[FrozenTrial], maximize: bool, top: int, callback_params: set[str]
) -> list[dict[str, Any]]:
    """The model params of the ``top`` best COMPLETE trials, each configuration once; best value first."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        raise StudyFileError(
            f"study {study_name!r} has no COMPLETE trial to confirm.",
            fix="run the study until a trial completes: `sweeper run STUDY.py`.",
        )
    ranked = sorted(complete, key=lambda t: (-t.value if maximize else t.value, t.number))
    configs: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for trial in ranked:
        config = {name: value for name, value in trial.params.items() if name not in callback_params}
        configs.setdefault(tuple(sorted((k, repr(v)) for k, v in config.items())), config)
        if len(configs) == top:
            break
    return list(configs.values())


def _grid_of(name: str, distribution: BaseDistribution) -> list[Any]:
    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, IntDistribution) and not distribution.log:
        return list(range(distribution.low, distribution.high + 1, distribution.step))
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        count = round((distribution.high - distribution.low) / distribution.step) + 1
        return [distribution.low + i * distribution.step for i in range(count)]
    raise StudyFileError(
        f"the study searched {name} over a continuous range, which a confirm run cannot grid.",
        fix=f"search {name} with sweeper.choice(...) of the values to compare.",
    )
