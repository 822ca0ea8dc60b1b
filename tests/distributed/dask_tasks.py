"""Functions that the distributed tests run on Dask workers.

A task's function must be importable on the scheduler and on every worker, and this test
directory is not. Tests ship this file with `client.upload_file(dask_tasks.__file__)`, which
puts it on the scheduler's and the workers' sys.path (and on workers that join later).
Keep it free of imports from the test suite: only the standard library, optuna and sweeper.
"""

from __future__ import annotations

import os
import time
import warnings

import optuna

HEARTBEAT = {"heartbeat_interval": 1, "grace_period": 3}


def storage(url: str) -> optuna.storages.RDBStorage:
    """PostgreSQL storage with heartbeats: every client passes these, the DB does not keep them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, **HEARTBEAT)


def run_trial(url: str, study_name: str, trial_id: int, seconds: float = 0.3) -> int:
    """Run a trial the driver asked for, as the engine's worker does; return this pid.

    Rebuilds the trial with `optuna.trial.Trial(study, trial_id)`, records a heartbeat,
    suggests x, sleeps `seconds` (so that one worker cannot take every trial), tells x**2.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = storage(url)
    study = optuna.load_study(study_name=study_name, storage=store)
    trial = optuna.trial.Trial(study, trial_id)
    store.record_heartbeat(trial_id)
    x = trial.suggest_float("x", -1.0, 1.0)
    time.sleep(seconds)
    study.tell(trial, x * x)
    return os.getpid()
