"""A worker no driver feeds: it asks the shared storage for trials until the study is done.

This is Optuna's own way to spread a study (Slurm arrays, Kubernetes jobs): every
worker points at one RDB storage, and the budget lives in the storage, not in any
one process (``execution/_budget.py``). ``sweeper worker`` runs this loop in its own process, and the Dask
backend runs it on each Dask worker.
"""

from __future__ import annotations

import time

import optuna

from sweeper._compat import trial_id_of
from sweeper._errors import DeviceBroken, SweepAborted
from sweeper.execution._budget import end_if_surplus, running, trials_wanted
from sweeper.execution._faults import recover_trials
from sweeper.search._samplers import make_sampler
from sweeper.storage._disk import low_disk_message
from sweeper.storage._open import open_storage
from sweeper.trial._config import SweepConfig
from sweeper.trial._context import worker_context
from sweeper.trial._outcome import STOP_REQUESTED_ATTR, count_results, epoch_budget_spent
from sweeper.trial._ownership import ask_owned
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

    Raises:
        SweepAborted: When the runs folder's disk is low before a trial would start.
        DeviceBroken: When a trial broke this process's GPU context (the trial is told first).
    """
    context = worker_context(config.study_file)
    storage = open_storage(config.storage, config.heartbeat, config.retries)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=make_sampler(context.study))
    ran = 0
    while not _stop_requested(study):
        recover_trials(study)
        trials = study.get_trials(deepcopy=False)
        budget_spent = epoch_budget_spent(trials, config.epoch_budget)
        if count_results(trials) >= n_trials or (budget_spent and not running(trials)):
            return ran
        if not trials_wanted(trials, n_trials) or budget_spent:
            time.sleep(config.heartbeat.interval_s)  # the last trials run elsewhere; stay to reap them
            continue
        low_disk = low_disk_message(config.runs_dir, config.min_free_gb)
        if low_disk:
            raise SweepAborted(low_disk)  # finished trials are in the storage; nothing else starts here
        trial = ask_owned(study)
        if end_if_surplus(study, trial.number, n_trials):
            continue
        outcome = run_trial(config, study_name, trial_id_of(trial))
        ran += 1
        if outcome.replace_worker:
            raise DeviceBroken(outcome.number, outcome.error or "")
    return ran


def _stop_requested(study: optuna.Study) -> bool:
    return bool(study.user_attrs.get(STOP_REQUESTED_ATTR))  # read from the storage each time
