"""Smoke test: the fixtures reach a real PostgreSQL and a real Dask cluster of 2 workers.

The shape is the engine's: the driver asks Optuna for trials, each Dask task rebuilds its
trial with `optuna.trial.Trial(study, trial_id)` on a worker, runs it and tells the result.
"""

from __future__ import annotations

import os
import uuid
import warnings

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("distributed")

# Importable because pytest puts this folder on sys.path (no __init__.py: 'prepend' mode).
import dask_tasks  # noqa: E402

pytest_plugins = ["server_fixtures"]  # postgres_url, dask_scheduler

N_TRIALS = 4


def test_trials_run_on_two_dask_workers_against_postgresql(postgres_url, dask_scheduler):
    from distributed import Client, wait

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=dask_tasks.storage(postgres_url))
    try:
        with Client(dask_scheduler, timeout=10) as client:
            client.wait_for_workers(2, timeout=30)
            client.upload_file(dask_tasks.__file__)
            worker_pids = set(client.run(os.getpid).values())
            with warnings.catch_warnings():
                # "Heartbeat of storage is supposed to be used with Study.optimize."
                warnings.simplefilter("ignore", UserWarning)
                trial_ids = [study.ask()._trial_id for _ in range(N_TRIALS)]
            futures = [
                client.submit(dask_tasks.run_trial, postgres_url, name, trial_id, pure=False) for trial_id in trial_ids
            ]
            _, not_done = wait(futures, timeout=30)
            assert not not_done, "trials still running after 30 s"
            pids = [f.result() for f in futures]

        assert len(worker_pids) == 2
        assert set(pids) == worker_pids, f"trials ran on {pids}, workers are {worker_pids}"
        assert os.getpid() not in pids
        trials = study.get_trials(deepcopy=False)
        assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * N_TRIALS
        # x * x as the task computes it: libm's pow makes x ** 2 differ in its last bit for about 1 x in 1,100.
        assert all(t.value == t.params["x"] * t.params["x"] for t in trials)
    finally:
        optuna.delete_study(study_name=name, storage=dask_tasks.storage(postgres_url))
