"""Real workers pinned by --gpus: each gets its slot's CUDA_VISIBLE_DEVICES and memory share; bad input is exit 2.

The driver's GPU discovery is replaced (this machine has no GPU); the workers are
real processes running real fits, and each trial records the environment it saw.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from conftest import sweep

pytest.importorskip("jax")  # JAX workers start fastest

ENV_STUDY = """
import os

SEEN = ("CUDA_VISIBLE_DEVICES", "XLA_PYTHON_CLIENT_MEM_FRACTION", "SWEEPER_TRIALS_PER_GPU", "KERAS_BACKEND")


def recording_model(trial):
    for name in SEEN:
        trial.set_user_attr("env_" + name, os.environ.get(name))
    return build_model(trial)


study = sw.Study(name="gpus", data=load_data, model=recording_model, monitor="val_accuracy",
                 epochs=1, batch_size=256, n_trials={n_trials}, seed=0)
"""


def _trials_with_env(root, name="gpus"):
    import optuna

    from sweeper.storage._open import open_storage

    study = optuna.load_study(study_name=name, storage=open_storage(str(root / "runs" / name / "journal.log")))
    rows = [{"pid": t.user_attrs["pid"], **t.user_attrs} for t in study.trials]
    return pd.DataFrame(rows)


def test_workers_get_their_slots_gpu_and_memory_share(tmp_path, write_study, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setattr("sweeper.execution._gpus.discover_gpus", lambda: [0, 1, 2])
    study_file = write_study(ENV_STUDY.format(n_trials=3))
    # Two GPUs, two trials each, three jobs: slots 0 and 2 on GPU 0, slot 1 on GPU 2.
    result = sweep("run", str(study_file), "--gpus", "0,2", "--trials-per-gpu", "2", "--jobs", "3", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "3 worker process(es) on GPU 0,2, 2 per GPU" in result.output
    trials = _trials_with_env(tmp_path)
    assert len(trials) == 3
    per_worker = trials.groupby("pid")["env_CUDA_VISIBLE_DEVICES"].agg(set)
    assert all(len(gpus) == 1 for gpus in per_worker)  # a worker never changes GPU
    assert Counter(next(iter(gpus)) for gpus in per_worker) == Counter({"0": 2, "2": 1})
    assert set(trials["env_XLA_PYTHON_CLIENT_MEM_FRACTION"]) == {"0.450"}
    assert set(trials["env_SWEEPER_TRIALS_PER_GPU"]) == {"2"} and set(trials["env_KERAS_BACKEND"]) == {"jax"}
    # The framework saw no GPU here, and says so; the backend is the driver's.
    assert set(trials["device"]) == {"cpu"} and set(trials["backend"]) == {"jax"}


def test_gpus_auto_without_gpus_is_todays_cpu_run(tmp_path, write_study, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    study_file = write_study(ENV_STUDY.format(n_trials=2))
    result = sweep("run", str(study_file), "--gpus", "auto", "--jobs", "2", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "on 2 worker process(es);" in result.output
    trials = _trials_with_env(tmp_path)
    assert trials["env_CUDA_VISIBLE_DEVICES"].isna().all() and trials["env_SWEEPER_TRIALS_PER_GPU"].isna().all()
    assert trials["env_XLA_PYTHON_CLIENT_MEM_FRACTION"].isna().all()
    csv = pd.read_csv(tmp_path / "reports" / "gpus" / "trials.csv")
    assert set(csv["device"]) == {"cpu"} and set(csv["backend"]) == {"jax"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus", "0,3"], "--gpus names GPU 3, which this machine does not have (GPUs found: 0, 1)."),
        (["--gpus", "0,1", "--trials-per-gpu", "2", "--jobs", "5"], "--jobs 5 is more than the 2 GPU(s)"),
        (["--gpus", "first"], "--gpus='first' is not 'auto', 'none' or distinct GPU indices."),
        (["--trials-per-gpu", "0"], "--trials-per-gpu=0 must be a positive integer."),
    ],
)
def test_bad_gpu_options_are_one_line_exit_2_and_write_nothing(tmp_path, write_study, monkeypatch, args, message):
    monkeypatch.setattr("sweeper.execution._gpus.discover_gpus", lambda: [0, 1])
    study_file = write_study(ENV_STUDY.format(n_trials=2))
    result = sweep("run", str(study_file), *args, cwd=tmp_path)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: ") and message in line and "Fix:" in line
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()
