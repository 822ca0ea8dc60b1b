"""Optuna samplers from a study's short names, each trial seeded on its own stream, and grid planning."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import optuna

from sweeper.study._space import grid_values
from sweeper.study._study import Study

PARENT_STREAM = -1


def make_sampler(study: Study, stream: int = PARENT_STREAM) -> optuna.samplers.BaseSampler:
    """The study's sampler, seeded for one random stream.

    Every worker loads the same study file, so a seeded sampler would draw the same
    values in every worker. Each trial therefore samples from its own stream, derived
    from the study seed and the trial number: reproducible, and distinct per trial.

    Args:
        study: The study.
        stream: The trial number, or ``PARENT_STREAM`` for the process that asks for
            trials. Defaults to ``PARENT_STREAM``.

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
    # constant_liar keeps parallel workers from proposing the same point.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _stream_seed(seed: int | None, stream: int) -> int | None:
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, stream + 1]).generate_state(1)[0])


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
    cells = [dict(zip(space, values, strict=True)) for values in itertools.product(*space.values())]
    return tuple((cell, {"repeat": repeat}) for repeat in range(study.repeats) for cell in cells)
