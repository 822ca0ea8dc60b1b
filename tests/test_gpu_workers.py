"""Real workers pinned by --gpus: each gets its slot's CUDA_VISIBLE_DEVICES and memory share; bad input is exit 2.

The driver's GPU discovery is replaced (this machine has no GPU); the workers are
real processes running real fits, and each trial records the environment it saw.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pandas as pd
import pytest
from conftest import sweep

pytest.importorskip("jax")  # JAX workers start fastest

ENV_STUDY = """
import os
import subprocess
import sys

SEEN = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "SWEEPER_TRIALS_PER_GPU",
    "SWEEPER_GPU_MEMORY_MB",
    "KERAS_BACKEND",
)


def recording_model(trial):
    for name in SEEN:
        trial.set_user_attr("env_" + name, os.environ.get(name))
    trial.set_user_attr("cores", sorted(os.sched_getaffinity(0)))
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
    monkeypatch.setattr("sweeper.execution._gpus.discover_memory_mb", lambda gpus: ((0, 16000), (2, 8000)))
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
    # TensorFlow's logical device limit: 90% of each GPU's memory, halved.
    limits = dict(zip(trials["env_CUDA_VISIBLE_DEVICES"], trials["env_SWEEPER_GPU_MEMORY_MB"], strict=True))
    assert limits == {"0": "7200", "2": "3600"} and set(trials["env_CUDA_DEVICE_ORDER"]) == {"PCI_BUS_ID"}
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
    # JAX's CPU threads follow the cores it may run on: each worker has its own share of them.
    cores = trials.groupby("pid")["cores"].first().map(tuple)
    assert len(cores) == 2 and not set(cores.iloc[0]) & set(cores.iloc[1])
    assert all(len(share) == max(1, len(os.sched_getaffinity(0)) // 2) for share in cores)
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


def test_a_sweeper_worker_shares_the_gpu_it_was_given(tmp_path, write_study):
    """A worker started by hand or by dask-cuda keeps its CUDA_VISIBLE_DEVICES and caps itself to its share."""
    study_file = write_study(ENV_STUDY.format(n_trials=1))
    storage = str(tmp_path / "runs" / "gpus" / "journal.log")
    env = {**os.environ, "KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": "3"}
    args = [sys.executable, "-m", "sweeper", "worker", str(study_file), "--storage", storage]
    bad = subprocess.run([*args, "--gpus", "0,1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "names 2 GPUs, but a worker runs one trial at a time" in bad.stderr
    assert not (tmp_path / "runs").exists()
    run = subprocess.run(
        [*args, "--trials-per-gpu", "4"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    (trial,) = _trials_with_env(tmp_path).to_dict("records")
    assert trial["env_CUDA_VISIBLE_DEVICES"] == "3" and trial["env_SWEEPER_TRIALS_PER_GPU"] == "4"
    assert trial["env_XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.225"
