"""The same study across machines, against real servers: a Dask cluster and PostgreSQL.

Each test gets its own study name on the shared database. Heartbeats are fast here
(1 s, grace 4 s), so a dead worker's trial is reaped within seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import optuna
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytest_plugins = ["server_fixtures"]  # postgres_url, dask_scheduler

REPO = Path(__file__).resolve().parents[2]
FAST_HEARTBEAT = {"SWEEPER_HEARTBEAT_S": "1", "SWEEPER_GRACE_PERIOD_S": "4"}

STUDY = """
import os
import signal

import keras
from sklearn.datasets import load_digits

import sweeper as sw


def load_data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build_model(trial):
    lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    if KILL_TRIAL is not None and trial.number == KILL_TRIAL:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would, mid-trial
    if trial.number in BREAK_TRIALS:
        raise RuntimeError("INTERNAL: Failed to launch kernel: CUDA_ERROR_ILLEGAL_ADDRESS")  # a broken GPU context
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


study = sw.Study(name=NAME, data=load_data, model=build_model, monitor="val_accuracy", epochs=EPOCHS,
                 batch_size=64, n_trials=N_TRIALS, pruner=None, seed=0,
                 callbacks=[sw.ModelCheckpoint(), sw.TensorBoard(), *EXTRA_CALLBACKS])
"""


def write_study(
    folder: Path,
    n_trials: int,
    epochs: int = 4,
    kill_trial: int | None = None,
    break_trials: tuple[int, ...] = (),
    extra: str = "EXTRA_CALLBACKS = []",
) -> tuple[Path, str]:
    """Writes STUDY under a fresh name; ``extra`` is code that defines its ``EXTRA_CALLBACKS``."""
    name = f"cluster-{uuid.uuid4().hex[:8]}"
    header = f"NAME = {name!r}\nN_TRIALS = {n_trials}\nEPOCHS = {epochs}\nKILL_TRIAL = {kill_trial!r}\n"
    header += f"BREAK_TRIALS = {break_trials!r}\n{textwrap.dedent(extra)}\n"
    path = folder / "study.py"
    path.write_text(header + textwrap.dedent(STUDY))
    return path, name


def sweeper(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **FAST_HEARTBEAT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "sweeper", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def stored_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def sweep_on_dask(path: Path, name: str, url: str, scheduler: str) -> tuple[str, list[optuna.trial.FrozenTrial]]:
    """Runs the study on the Dask cluster against PostgreSQL; its stderr and stored trials once it succeeded."""
    run = sweeper("run", str(path), "--backend", "dask", "--scheduler", scheduler, "--storage", url, cwd=path.parent)
    assert run.returncode == 0, run.stderr
    return run.stderr, stored_trials(url, name)


def test_a_sweep_runs_on_both_dask_workers_against_postgresql(tmp_path, postgres_url, dask_scheduler):
    path, name = write_study(tmp_path, n_trials=6, epochs=8)
    run = sweeper(
        "run",
        str(path),
        "--backend",
        "dask",
        "--scheduler",
        dask_scheduler,
        "--storage",
        postgres_url,
        "--runs-dir",
        str(tmp_path / "shared-runs"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    trials = pd.read_csv(tmp_path / "reports" / name / "trials.csv")
    assert len(trials) == 6 and set(trials["state"]) == {"COMPLETE"}
    assert trials["pid"].nunique() == 2 and os.getpid() not in set(trials["pid"])
    # keep_checkpoints=5 by default: Dask workers on the shared runs folder keep exactly the 5 best.
    kept = trials[trials["checkpoint"].notna()]
    assert len(kept) == 5 and all(Path(c).is_file() and str(tmp_path / "shared-runs") in c for c in kept["checkpoint"])
    assert (trials.loc[trials["checkpoint"].isna(), "checkpoint_deleted"] == "not among the 5 best").all()
    assert len(list((tmp_path / "shared-runs" / name / "artifacts").iterdir())) == 5
    # The password never shows: not in the output, not in any report.
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in run.stdout + run.stderr
    assert "***@" in run.stderr
    for report in (tmp_path / "reports" / name).iterdir():
        assert password not in report.read_text(errors="ignore")


def test_a_dask_worker_killed_mid_trial_loses_nothing(tmp_path, postgres_url, dask_scheduler):
    path, name = write_study(tmp_path, n_trials=4, epochs=3, kill_trial=1)
    _, trials = sweep_on_dask(path, name, postgres_url, dask_scheduler)
    assert not [t for t in trials if t.state.name == "RUNNING"]
    dead = trials[1]
    assert dead.state.name == "FAIL"
    lineage = [(t.number, t.state.name, t.user_attrs.get("stop_reason"), t.system_attrs) for t in trials]
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == 1)
    assert retry.state.name == "COMPLETE" and retry.params == dead.params, lineage
    report = pd.read_csv(tmp_path / "reports" / name / "trials.csv").set_index("trial")
    assert report.loc[1, "stop_reason"] == "error" and "stopped sending heartbeats" in report.loc[1, "error"]
    counted = [t for t in trials if t.number != 1]
    assert len(counted) == 4 and all(t.state.name == "COMPLETE" for t in counted)


def test_dask_workers_whose_gpu_context_broke_are_restarted_and_the_sweep_goes_on(
    tmp_path, postgres_url, dask_scheduler
):
    path, name = write_study(tmp_path, n_trials=5, epochs=2, break_trials=(0, 1, 2))
    stderr, trials = sweep_on_dask(path, name, postgres_url, dask_scheduler)
    broken = trials[:3]
    assert all(t.state.name == "FAIL" and "the CUDA context broke" in t.user_attrs["error"] for t in broken)
    assert [t.state.name for t in trials[3:]] == ["COMPLETE"] * 2
    assert stderr.count("broke its GPU context; restarting it") == 3
    # A broken worker process runs no later trial: each broke in its own, and none completed in one.
    broken_pids = {t.user_attrs["pid"] for t in broken}
    assert len(broken_pids) == 3 and not broken_pids & {t.user_attrs["pid"] for t in trials[3:]}


@pytest.mark.slow
def test_two_sweeper_workers_join_one_study(tmp_path, postgres_url):
    path, name = write_study(tmp_path, n_trials=6, epochs=8)
    env = {**os.environ, **FAST_HEARTBEAT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "sweeper", "worker", str(path), "--storage", postgres_url]
    workers = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    trials = stored_trials(postgres_url, name)
    assert len(trials) == 6 and all(t.state.name == "COMPLETE" for t in trials)
    assert {t.user_attrs["pid"] for t in trials} == {w.pid for w in workers}
    report = sweeper("report", name, "--storage", postgres_url, cwd=tmp_path)
    assert report.returncode == 0 and "6 complete" in report.stdout


@pytest.mark.parametrize("which", ["scheduler", "storage"])
def test_an_unreachable_server_is_one_redacted_line_and_exit_2(tmp_path, postgres_url, dask_scheduler, which):
    path, _ = write_study(tmp_path, n_trials=1)
    scheduler = "tcp://127.0.0.1:9" if which == "scheduler" else dask_scheduler
    storage = "postgresql+psycopg://alice:s3cret-pw@127.0.0.1:9/x" if which == "storage" else postgres_url
    started = time.monotonic()
    run = sweeper("run", str(path), "--backend", "dask", "--scheduler", scheduler, "--storage", storage, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert time.monotonic() - started < 60
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in run.stderr
    assert "s3cret-pw" not in run.stderr and ("127.0.0.1:9" in errors[0])
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()


def test_sweeper_worker_with_an_unreachable_storage_fails_fast(tmp_path):
    path, _ = write_study(tmp_path, n_trials=1)
    started = time.monotonic()
    run = sweeper("worker", str(path), "--storage", "postgresql+psycopg://bob:hunter22@127.0.0.1:9/x", cwd=tmp_path)
    assert run.returncode == 2 and time.monotonic() - started < 30
    assert "hunter22" not in run.stderr and "bob:***@127.0.0.1:9" in run.stderr


def test_a_full_disk_stops_the_dask_loops_with_one_line_and_exit_1(tmp_path, postgres_url, dask_scheduler):
    path, name = write_study(tmp_path, n_trials=2, epochs=2)
    command = ["run", str(path), "--backend", "dask", "--scheduler", dask_scheduler, "--storage", postgres_url]
    run = sweeper(*command, "--min-free-gb", "1e9", cwd=tmp_path)  # more than any disk here has
    assert run.returncode == 1, run.stderr
    assert "GB free, under the 1e+09 GB a trial needs to start" in run.stderr
    assert "Traceback" not in run.stderr
    assert stored_trials(postgres_url, name) == []  # no trial started


# The whole `sweeper worker` process is killed at trial 0's fourth epoch, once: no driver sees it.
LOSE_THIS_MACHINE = """
import os
import signal
from pathlib import Path

import keras

MARKER = Path(__file__).with_name("lost-once")


class LoseThisMachine(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 3 and not MARKER.exists():
            MARKER.write_text("")
            os.kill(os.getpid(), signal.SIGKILL)


EXTRA_CALLBACKS = [LoseThisMachine()]
"""


def test_a_lost_machines_trial_resumes_on_another_at_its_last_backed_up_epoch(tmp_path, postgres_url):
    path, name = write_study(tmp_path, n_trials=2, epochs=6, extra=LOSE_THIS_MACHINE)
    env = {**os.environ, **FAST_HEARTBEAT, "TF_CPP_MIN_LOG_LEVEL": "3", "SWEEPER_BACKUP_EVERY_S": "0"}
    command = [sys.executable, "-m", "sweeper", "worker", str(path), "--storage", postgres_url]
    workers = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    codes = sorted(worker.wait(timeout=300) for worker in workers)
    assert codes == [-9, 0]  # one machine lost mid-trial; the other finished the study
    trials = stored_trials(postgres_url, name)
    lost = next(t for t in trials if t.state.name == "FAIL")
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == lost.number)
    assert retry.state.name == "COMPLETE" and retry.params == lost.params
    assert retry.user_attrs["resumed_from_epoch"] == 3  # epochs 0-2 were not trained again
    assert sorted(retry.intermediate_values) == list(range(6))  # the lost epochs' values, inherited
    assert sweeper("report", name, "--storage", postgres_url, cwd=tmp_path).returncode == 0
    epochs = pd.read_csv(tmp_path / "reports" / name / "epochs.csv")
    assert epochs.loc[epochs["trial"] == retry.number, "epoch"].tolist() == list(range(6))  # each epoch once
