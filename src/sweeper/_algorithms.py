"""Optuna samplers and pruners from a study's short names."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import optuna

from sweeper._space import grid_values
from sweeper._study import Study

PARENT_STREAM = -1

# TPE's random start: Optuna's default, 10 trials, suits studies of hundreds of trials.
# A sweep of a few dozen full trials would spend up to half its budget on random search.
OPTUNA_TPE_STARTUP_TRIALS = 10
MIN_TPE_STARTUP_TRIALS = 5
TPE_STARTUP_SHARE = 5  # one trial in five of the budget samples at random


def tpe_startup_trials(n_trials: int, epochs: int, epoch_budget: int | None = None) -> int:
    """How many trials TPE samples at random before it models the results.

    A fifth of the budget counted in full trials, at least 5 and at most Optuna's 10.
    An epoch budget counts as the full trials it pays for: pruning spreads it over
    more, shorter trials, and those should not lengthen the random start.

    Args:
        n_trials: The sweep's trial budget.
        epochs: The most epochs one trial trains.
        epoch_budget: The sweep's epoch budget, if any. Defaults to ``None``.

    Returns:
        The TPE sampler's ``n_startup_trials``.
    """
    full_trials = n_trials if epoch_budget is None else min(n_trials, math.ceil(epoch_budget / epochs))
    return min(OPTUNA_TPE_STARTUP_TRIALS, max(MIN_TPE_STARTUP_TRIALS, full_trials // TPE_STARTUP_SHARE))


def make_sampler(study: Study, stream: int = PARENT_STREAM, n_trials: int | None = None,
                 epoch_budget: int | None = None) -> optuna.samplers.BaseSampler:
    """The study's sampler, seeded for one random stream.

    Every worker loads the same study file, so a seeded sampler would draw the same
    values in every worker. Each trial therefore samples from its own stream, derived
    from the study seed and the trial number: reproducible, and distinct per trial.

    Args:
        study: The study.
        stream: The trial number, or ``PARENT_STREAM`` for the process that asks for
            trials. Defaults to ``PARENT_STREAM``.
        n_trials: The sweep's trial budget, which sizes TPE's random start.
            Defaults to the study's ``n_trials``.
        epoch_budget: The sweep's epoch budget, likewise. Defaults to the study's
            ``epoch_budget``.

    Returns:
        A sampler.
    """
    if not isinstance(study.sampler, str) and study.sampler is not None:
        if stream != PARENT_STREAM:
            study.sampler.reseed_rng()
        return study.sampler
    seed = _stream_seed(study.seed, stream)
    if study.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if study.sampler == "grid":
        space = {name: grid_values(value) for name, value in study.searched_callback_params().items()}
        return optuna.samplers.GridSampler(space, seed=seed)
    startup = tpe_startup_trials(study.n_trials if n_trials is None else n_trials, study.epochs,
                                 study.epoch_budget if epoch_budget is None else epoch_budget)
    # constant_liar keeps parallel workers from proposing the same point.
    return optuna.samplers.TPESampler(n_startup_trials=startup, seed=seed, constant_liar=True)


def _stream_seed(seed: int | None, stream: int) -> int | None:
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, stream + 1]).generate_state(1)[0])


def make_pruner(study: Study) -> optuna.pruners.BasePruner:
    """The study's pruner.

    Args:
        study: The study; ``epochs`` sizes the warm-up and the Hyperband budget.

    Returns:
        A pruner; ``NopPruner`` for ``None`` or ``"none"``.
    """
    pruner: Any = study.pruner
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    warmup = max(2, study.epochs // 8)
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if pruner == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=warmup)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=study.epochs)
    if pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def planned_trials(study: Study) -> tuple[tuple[dict[str, Any], dict[str, Any]], ...]:
    """Every (grid cell, repeat) of a grid study, to enqueue when the study is created.

    Optuna's GridSampler hands out cells by trial number, and repeats enqueued
    later take numbers too, so cells would be skipped and others run twice. Planning
    the whole grid up front runs each cell exactly ``repeats`` times. The order is
    repeat-major: a sweep cut short still covers every cell.

    Args:
        study: The study.

    Returns:
        ``(params, user_attrs)`` pairs; none unless ``sampler="grid"``.
    """
    if study.sampler != "grid":
        return ()
    space = {name: grid_values(value) for name, value in study.searched_callback_params().items()}
    cells = [dict(zip(space, values)) for values in itertools.product(*space.values())]
    return tuple((cell, {"repeat": repeat}) for repeat in range(study.repeats) for cell in cells)
