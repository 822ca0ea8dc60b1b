"""A worker no driver feeds: it asks the shared storage for trials until the study is done.

This is Optuna's own way to spread a study (Slurm arrays, Kubernetes jobs): every
worker points at one RDB storage, and the budget lives in the storage, not in any
one process. ``sweeper worker`` runs this loop in its own process, and the Dask
backend runs it on each Dask worker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper._algorithms import make_sampler
from sweeper._faults import fail_trial
from sweeper._heartbeat import ask, reap_stale_trials
from sweeper._outcome import STOP_REQUESTED_ATTR, StopReason, count_results, epoch_budget_spent, retried_by_heartbeat
from sweeper._loader import check_study_file
from sweeper._storage import open_storage, redact
from sweeper._trial_runner import probe_study, run_trial
from sweeper._worker import SweepConfig, worker_context


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
        run_trial(config, study_name, trial._trial_id)
        ran += 1
    return ran


def _stop_requested(study: optuna.Study) -> bool:
    return bool(study.user_attrs.get(STOP_REQUESTED_ATTR))  # read from the storage each time


def join(
    study_file: str | os.PathLike[str],
    *,
    storage: str,
    runs_dir: str | os.PathLike[str] = "runs",
    n_trials: int | None = None,
    retries: int | None = None,
    epoch_budget: int | None = None,
) -> int:
    """Joins the study as one more worker, in this process, until it holds ``n_trials`` results.

    The study is created if no one has yet. Run this on any number of machines
    against one RDB storage and a shared runs folder; ``sweeper report`` builds
    the reports afterwards.

    Args:
        study_file: The study file, at the same path on every machine.
        storage: The shared Optuna storage, an RDB URL for more than one machine.
        runs_dir: Where trial artifacts go; shared between machines. Defaults to ``"runs"``.
        n_trials: Results the study should hold; overrides the study's. Defaults to ``None``.
        retries: Times a trial lost with its worker runs again; overrides the
            study's. Defaults to ``None``.
        epoch_budget: Start no trial once the study's trials have trained this many
            epochs; overrides the study's. Defaults to ``None``.

    Returns:
        How many trials this worker ran.

    Raises:
        StudyFileError: For bad input, before any trial runs.
    """
    from sweeper._engine import open_or_create_study, positive_option, whole_number_option

    study_path = check_study_file(study_file).resolve()
    open_storage(storage)  # an unreachable storage fails now, not after TensorFlow has loaded
    probe = probe_study(str(study_path))
    n_trials = positive_option("--n-trials", probe.n_trials if n_trials is None else n_trials)
    retries = whole_number_option("--retries", probe.retries if retries is None else retries)
    config = SweepConfig(str(study_path), storage, str(Path(runs_dir).resolve()), retries=retries,
                         epoch_budget=probe.epoch_budget if epoch_budget is None else
                         positive_option("--epoch-budget", epoch_budget))
    backend = open_storage(storage, config.heartbeat, retries)
    open_or_create_study(probe, backend, make_sampler(worker_context(str(study_path)).study), redact(storage))
    return work(config, probe.name, n_trials)


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
    fail_trial(study, mine._trial_id, StopReason.INTERRUPTED, "not needed: the study already had its trials",
               retry="fixed_params" in mine.system_attrs)
    return True
