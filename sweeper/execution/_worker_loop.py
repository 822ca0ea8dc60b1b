"""A worker no driver feeds: it asks the shared storage for trials until the study is done.

This is Optuna's own way to spread a study (Slurm arrays, Kubernetes jobs): every
worker points at one RDB storage, and the budget lives in the storage, not in any
one process. ``sweeper worker`` runs this loop in its own process, and the Dask
backend runs it on each Dask worker.
"""

from __future__ import annotations

import time

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper._compat import trial_id_of, was_enqueued
from sweeper.execution._faults import fail_trial
from sweeper.search._samplers import make_sampler
from sweeper.storage._heartbeat import ask, reap_stale_trials
from sweeper.storage._open import open_storage
from sweeper.trial._config import SweepConfig
from sweeper.trial._context import worker_context
from sweeper.trial._outcome import (
    STOP_REQUESTED_ATTR,
    StopReason,
    count_results,
    epoch_budget_spent,
    retried_by_heartbeat,
)
from sweeper.trial._runner import run_trial


def work(config: SweepConfig, study_name: str, n_trials: int) -> int:
    """Runs trials of an existing study until it holds ``n_trials`` results or its epoch budget is spent.

    While the last trials run elsewhere, it waits rather than exits: if their
    worker dies, their heartbeat goes stale, this worker reaps them and runs
    their retries (while the epoch budget lasts).

    Args:
        config: The sweep.
        study_name: The Optuna study, already created.
        n_trials: Results the study should hold.

    Returns:
        How many trials this worker ran.
    """
    context = worker_context(config.study_file)
    storage = open_storage(config.storage, config.heartbeat, config.retries)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=make_sampler(context.study))
    ran = 0
    while not _stop_requested(study):
        reap_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        results, running = count_results(trials), _running(trials)
        budget_spent = epoch_budget_spent(trials, config.epoch_budget)
        if results >= n_trials or (budget_spent and not running):
            return ran
        if results + running >= n_trials or budget_spent:
            time.sleep(config.heartbeat.interval_s)  # the last trials run elsewhere; stay to reap them
            continue
        trial = ask(study)
        if _surplus(study, trial.number, n_trials):
            continue
        run_trial(config, study_name, trial_id_of(trial))
        ran += 1
    return ran


def _stop_requested(study: optuna.Study) -> bool:
    return bool(study.user_attrs.get(STOP_REQUESTED_ATTR))  # read from the storage each time


def _running(trials: list[FrozenTrial]) -> int:
    return sum(t.state == TrialState.RUNNING for t in trials)


def _surplus(study: optuna.Study, number: int, n_trials: int) -> bool:
    """Ends the trial just asked if trials before it already fill the budget.

    Two workers may both see one trial missing and both ask. The lower trial
    number wins; the other is ended as ``interrupted`` (not a result), and a queued
    trial it took (a retry, a grid cell) goes back to the queue.
    """
    trials = study.get_trials(deepcopy=False)
    retried = retried_by_heartbeat(trials)  # a reaped trial's retry may be this very trial, so look at all
    earlier = [t for t in trials if t.number < number and t.number not in retried]
    if count_results(earlier) + _running(earlier) < n_trials:
        return False
    mine = next(t for t in trials if t.number == number)
    fail_trial(
        study,
        trial_id_of(mine),
        StopReason.INTERRUPTED,
        "not needed: the study already had its trials",
        retry=was_enqueued(mine),
    )
    return True
