"""Optuna pruners from a study's short names, sized by its epochs."""

from __future__ import annotations

from typing import Any

import optuna

from sweeper.study._study import Study


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
