"""Faults through the CLI, on real fits: dead workers, Ctrl-C and SIGTERM, NaN, and studies that cannot work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import optuna
import pandas as pd
import pytest
from conftest import sweep

from sweeper.callbacks._temp_files import TEMP_PREFIX
from sweeper.storage._open import open_storage

KILLS_ITS_WORKER = """
import os
import signal


def build_or_die(trial):
    model = build_model(trial)
    # Trial 1's first attempt dies as an OOM kill would; its retry (another number) survives.
    if trial.number == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return model


study = sw.Study(name="{name}", data=load_data, model=build_or_die, monitor="val_accuracy", epochs=2,
                 batch_size=128, n_trials=4, pruner=None, seed=0, callbacks=[sw.ModelCheckpoint()])
"""


def journal_trials(root: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    storage = open_storage(str(root / "runs" / name / "journal.log"))
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def test_a_killed_worker_fails_its_trial_alone_and_the_trial_is_retried(tmp_path, write_study):
    path = write_study(KILLS_ITS_WORKER.format(name="killed"))
    result = sweep("run", str(path), "--jobs", "2", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    trials = {t.number: t for t in journal_trials(tmp_path, "killed")}
    dead = trials[1]
    assert dead.state.name == "FAIL" and dead.user_attrs["stop_reason"] == "error"
    assert "worker process running this trial died (exit code SIGKILL(-9))" in dead.user_attrs["error"]
    assert "retried with the same params (attempt 2)" in dead.user_attrs["error"]
    retry = next(t for t in trials.values() if t.user_attrs.get("retry_of") == 1)
    assert retry.params == dead.params and retry.user_attrs["attempt"] == 2 and retry.state.name == "COMPLETE"
    # No other trial paid for the death, nothing is left RUNNING, and the count is exact.
    others = [t for t in trials.values() if t.number != 1]
    assert all(t.state.name == "COMPLETE" for t in others)
    assert len(others) == 4
    report = pd.read_csv(tmp_path / "reports" / "killed" / "trials.csv")
    assert len(report) == 5 and "not counted" in result.output


# With no retries left, the dead worker's trial counts as failed: driven on the driver itself in
# tests/test_faults_unit.py, as a second killing sweep would cost 20 s more.


SWEEP_STDERR = "sweep.stderr"
SLOW_STUDY = """
study = sw.Study(name="slow", data=load_data, model=build_model, monitor="val_accuracy", epochs=400,
                 batch_size=256, n_trials=3, pruner=None, seed=0, sampler=optuna.samplers.RandomSampler(seed=0),
                 callbacks=[sw.ModelCheckpoint(), sw.TensorBoard()])
"""


def start_sweep(path: Path, cwd: Path, *args: str) -> subprocess.Popen:
    # stderr goes to a file, which outlives the process: its workers would keep a pipe open after it dies.
    # PYTHONFAULTHANDLER: a sweep that hangs can be made to print every thread's stack (SIGABRT).
    # A shell that runs the tests in the background (`pytest &`) ignores SIGINT, and children inherit
    # an ignored signal; a user's terminal does not. Exec resets a *handled* signal to its default.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with open(cwd / SWEEP_STDERR, "w") as stderr:
            return subprocess.Popen(
                [sys.executable, "-m", "sweeper", "run", str(path), *args],
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, "PYTHONFAULTHANDLER": "1"},
            )
    finally:
        signal.signal(signal.SIGINT, previous)


def stderr_once_stopped(process: subprocess.Popen, cwd: Path, timeout: float = 60) -> str:
    """The sweep's stderr once it exits; a sweep that hangs fails with its threads' stacks instead."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        process.wait(timeout=30)
        stacks = (cwd / SWEEP_STDERR).read_text()
        raise AssertionError(f"the sweep did not exit within {timeout} s; its threads:\n{stacks[-8000:]}") from None
    return (cwd / SWEEP_STDERR).read_text()


def wait_until_trials_run(root: Path, name: str, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    journal = root / "runs" / name / "journal.log"
    while time.monotonic() < deadline:
        if journal.exists():
            running = [t for t in journal_trials(root, name) if t.state.name == "RUNNING" and "pid" in t.user_attrs]
            if len(running) >= count:
                return
        time.sleep(0.5)
    raise AssertionError(f"{count} trials never started running")


@pytest.mark.parametrize(
    "signal_number, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_stops_the_sweep_in_seconds_and_the_same_command_resumes(
    tmp_path, write_study, signal_number, exit_code
):
    path = write_study(SLOW_STUDY)
    process = start_sweep(path, tmp_path, "--jobs", "2", "--n-trials", "2")
    wait_until_trials_run(tmp_path, "slow", 2)
    time.sleep(2)  # let them train a few epochs, so a checkpoint save may be underway
    sent = time.monotonic()
    process.send_signal(signal_number)
    stderr = stderr_once_stopped(process, tmp_path)
    assert time.monotonic() - sent < 10
    assert process.returncode == exit_code, stderr
    assert "run the same command to resume" in stderr
    trials = journal_trials(tmp_path, "slow")
    assert {t.state.name for t in trials} <= {"FAIL", "WAITING", "COMPLETE"}
    interrupted = [t for t in trials if t.user_attrs.get("stop_reason") == "interrupted"]
    assert len(interrupted) == 2 and all(t.state.name == "FAIL" for t in interrupted)
    if signal_number == signal.SIGTERM:
        return
    # A torn save from an earlier kill is swept on the next run.
    stale = tmp_path / "runs" / "slow" / "trials" / "0" / "checkpoints" / f"{TEMP_PREFIX}999999-best.keras"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"torn")
    path.write_text(path.read_text().replace("epochs=400", "epochs=2"))
    resumed = sweep("run", str(path), "--jobs", "2", "--n-trials", "2", cwd=tmp_path)
    assert resumed.exit_code == 0, resumed.output
    trials = journal_trials(tmp_path, "slow")
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) == 2 and {t.user_attrs["retry_of"] for t in finished} == {t.number for t in interrupted}
    assert not stale.exists()


DIVERGES = """
class ExplodesAt(keras.optimizers.schedules.LearningRateSchedule):
    # A sane rate, then a huge one from a step in the middle of the third epoch.
    def __init__(self, step):
        self.step = step

    def __call__(self, step):
        return keras.ops.where(step < self.step, 0.01, 1e30)

    def get_config(self):
        return {"step": self.step}


def build_model_that_may_diverge(trial):
    explode = trial.suggest_categorical("explode", [True, False])
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    lr = ExplodesAt(27) if explode else 0.01  # 11 steps an epoch: step 27 is mid-epoch 2
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


study = sw.Study(name="diverges", data=load_data, model=build_model_that_may_diverge, monitor="val_accuracy",
                 epochs=8, batch_size=128, n_trials=2, pruner=None, seed=0,
                 sampler=optuna.samplers.GridSampler({"explode": [True, False]}, seed=0),
                 keep_checkpoints="all",  # a failed trial's checkpoint is otherwise deleted when it ends
                 callbacks=[sw.ModelCheckpoint(), sw.TensorBoard()])
"""


def test_a_diverging_trial_fails_as_diverged_at_once_and_keeps_its_logs_and_best_checkpoint(tmp_path, write_study):
    path = write_study(DIVERGES)
    result = sweep("run", str(path), "--jobs", "2", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    # pandas' defaults: the stop reason must not read as a missing value (it did when it was "nan").
    trials = pd.read_csv(tmp_path / "reports" / "diverges" / "trials.csv").set_index("params_explode")
    assert trials.index[trials["stop_reason"] == "diverged"].tolist() == [True]
    diverged, fine = trials.loc[True], trials.loc[False]
    assert diverged["state"] == "FAIL"
    assert diverged["epochs_run"] == 3  # stopped inside the epoch it diverged in, not after 8
    assert diverged["best_epoch"] in (0, 1)
    model = keras.models.load_model(diverged["checkpoint"], compile=False)  # its schedule is a test class
    assert all(keras.ops.all(keras.ops.isfinite(w)) for w in model.weights)
    assert list(Path(diverged["logdir"], "train").glob("events.out.tfevents.*"))
    assert (fine["state"], fine["epochs_run"]) == ("COMPLETE", 8)


ALWAYS_FAILS = """
class Broken(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("the metrics server is down")


study = sw.Study(name="doomed", data=load_data, model=build_model, monitor="val_accuracy", epochs=2,
                 batch_size=128, n_trials=20, pruner=None, callbacks=[Broken()])
"""


@pytest.mark.parametrize("args, failures", [((), 3), (("--fail-fast", "2"), 2)], ids=["default", "fail-fast-2"])
def test_a_study_whose_first_trials_all_fail_stops_with_exit_1(tmp_path, write_study, args, failures):
    path = write_study(ALWAYS_FAILS)
    result = sweep("run", str(path), "--jobs", "1", *args, cwd=tmp_path)
    assert result.exit_code == 1, result.output
    assert f"the first {failures} trials all failed" in result.output
    assert "Trial 0 failed first: RuntimeError: the metrics server is down" in result.output
    trials = pd.read_csv(tmp_path / "reports" / "doomed" / "trials.csv")
    assert len(trials) == failures and (trials["stop_reason"] == "error").all()
    assert trials["error"].str.contains("Traceback").all()


def test_fail_fast_zero_never_stops(tmp_path, write_study):
    path = write_study(ALWAYS_FAILS.replace("n_trials=20", "n_trials=4"))
    result = sweep("run", str(path), "--jobs", "2", "--fail-fast", "0", cwd=tmp_path)
    assert result.exit_code == 1, result.output  # no trial succeeded
    assert len(pd.read_csv(tmp_path / "reports" / "doomed" / "trials.csv")) == 4


def test_a_trial_another_process_ended_first_reports_what_the_storage_says(tmp_path, write_study):
    """One interrupted trial, one name: its worker does not relabel it `error` when it finds it ended."""
    import io

    from sweeper.execution._faults import interrupt_trial
    from sweeper.execution._progress import Progress
    from sweeper.trial._config import SweepConfig
    from sweeper.trial._runner import run_trial

    path = write_study(
        'study = sw.Study(name="ended", data=load_data, model=build_model, monitor="val_accuracy", epochs=1,\n'
        "                 batch_size=128, n_trials=1, pruner=None, seed=0)\n"
    )
    assert sweep("run", str(path), cwd=tmp_path).exit_code == 0
    journal = str(tmp_path / "runs" / "ended" / "journal.log")
    study = optuna.load_study(study_name="ended", storage=open_storage(journal))
    trial = study.ask()
    interrupt_trial(study, trial._trial_id)  # as a run that found it abandoned would

    config = SweepConfig(str(path.resolve()), journal, str(tmp_path / "runs"))
    outcome = run_trial(config, "ended", trial._trial_id)  # the worker still had it: it runs, then finds it ended
    assert (outcome.state, outcome.stop_reason, outcome.counted, outcome.error) == ("FAIL", "interrupted", False, None)
    line = io.StringIO()
    Progress(1, "val_accuracy", "max", stream=line).update(outcome, study.get_trials())
    assert f"trial {trial.number:>4} FAIL     (interrupted, not counted)" in line.getvalue()
