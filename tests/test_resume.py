"""A trial cut short resumes at its last completed epoch and ends exactly as it would have uninterrupted.

Every check compares a real interrupted sweep with a real uninterrupted one of the same
seeded study: a worker SIGKILLed mid-fit under ``--jobs 2``, and Ctrl-C of the CLI then
the same command again. The model has Dropout (whose seed generator's state must be
restored) and the data are shuffled each epoch; EarlyStopping restores its best weights
and ReduceLROnPlateau cuts the rate, so their state must come back too.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import optuna
import pandas as pd
import pytest

import sweeper
from sweeper.storage._open import open_storage

STUDY = """
import os, signal, time
from pathlib import Path

import keras
import optuna
from sklearn.datasets import load_digits

import sweeper as sw

INTERRUPT = {interrupt!r}  # None, "kill" (SIGKILL this worker) or "ctrl-c" (SIGINT the driver)
MARKER = Path(__file__).with_name("interrupted-once")


def load_data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build_model(trial):
    units = trial.suggest_categorical("units", [16, 32])
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class InterruptOnce(keras.callbacks.Callback):
    # Cuts the units=32 trial short as it begins epoch 5, once.
    def on_epoch_begin(self, epoch, logs=None):
        if INTERRUPT is None or epoch != 5 or self.model.layers[0].units != 32 or MARKER.exists():
            return
        MARKER.write_text("")
        if INTERRUPT == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os.kill(os.getppid(), signal.SIGINT)  # the driver
        time.sleep(60)  # until the driver kills this worker


study = sw.Study(
    name="resume", data=load_data, model=build_model, monitor="val_loss", epochs=14, batch_size=64,
    n_trials=2, pruner=None, seed=0, keep_checkpoints="all",
    sampler=optuna.samplers.GridSampler({{"units": [16, 32]}}, seed=0),
    callbacks=[
        sw.EarlyStopping(patience=4, restore_best_weights=True),
        sw.ReduceLROnPlateau(factor=0.5, patience=1),
        sw.ModelCheckpoint(),
        sw.TensorBoard(),
        InterruptOnce(),
    ],
)
"""


def write_study(folder: Path, interrupt: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.py"
    path.write_text(textwrap.dedent(STUDY.format(interrupt=interrupt)))
    return path


def report(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, dict[int, float]]]:
    """trials.csv, epochs.csv and each trial's intermediate values (what the pruner saw), by units."""
    trials = pd.read_csv(folder / "reports" / "resume" / "trials.csv")
    epochs = pd.read_csv(folder / "reports" / "resume" / "epochs.csv")
    storage = open_storage(str(folder / "runs" / "resume" / "journal.log"))
    study = optuna.load_study(study_name="resume", storage=storage)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return trials, epochs, {t.params["units"]: t.intermediate_values for t in complete}


def sweep(folder: Path, interrupt: str | None) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, dict[int, float]]]:
    """The study swept in-process with ``--jobs 2``, cut short as ``interrupt`` says; its report."""
    path = write_study(folder, interrupt)
    result = sweeper.run(path, jobs=2, runs_dir=folder / "runs", reports_dir=folder / "reports", progress=False)
    assert result.n_results == 2
    return report(folder)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same study, uninterrupted: what every resumed trial must equal."""
    return sweep(tmp_path_factory.mktemp("reference"), None)


def assert_resumed_exactly(run, reference) -> None:
    (trials, epochs, values), (ref_trials, ref_epochs, ref_values) = run, reference
    assert values == ref_values  # the retry reported its predecessor's epochs too: the pruner saw the whole curve
    complete = trials[trials["state"] == "COMPLETE"].set_index("params_units")
    expected = ref_trials.set_index("params_units")
    resumed = complete.loc[32]
    assert resumed["resumed_from_epoch"] == 5  # the epochs 0-4 it had completed were not trained again
    columns = ["value", "best_epoch", "epochs_run", "stop_reason", "lr_final", "lr_reductions"]
    for units in (16, 32):
        assert complete.loc[units, columns].tolist() == expected.loc[units, columns].tolist()
        mine = keras.models.load_model(complete.loc[units, "checkpoint"]).get_weights()
        theirs = keras.models.load_model(expected.loc[units, "checkpoint"]).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
        # Each epoch once, the resumed trial's earlier epochs read from its predecessor's logs.
        got = epochs[epochs["trial"] == complete.loc[units, "trial"]].drop(columns="trial").reset_index(drop=True)
        want = ref_epochs[ref_epochs["trial"] == expected.loc[units, "trial"]].drop(columns="trial")
        pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_exact=True)
    assert not list(Path(resumed["checkpoint"]).parents[1].glob("backup"))  # the backup went with the trial


def test_a_worker_killed_mid_trial_resumes_at_its_last_epoch_and_ends_exactly_as_uninterrupted(
    tmp_path, reference, monkeypatch
):
    monkeypatch.setenv("SWEEPER_BACKUP_EVERY_S", "0")  # a backup every epoch; by default at most once a minute
    assert_killed_then_resumed_exactly(tmp_path, reference)


def test_on_pytorch_too_a_killed_workers_trial_resumes_exactly(tmp_path, monkeypatch):
    # PyTorch draws an unseeded Dropout's masks and each epoch's shuffle from its own global
    # generator, not from Keras's seed generators: the backup must hold its state too.
    pytest.importorskip("torch")
    monkeypatch.setenv("KERAS_BACKEND", "torch")  # the workers' backend; this process keeps its own
    monkeypatch.setenv("SWEEPER_BACKUP_EVERY_S", "0")
    assert_killed_then_resumed_exactly(tmp_path / "killed", sweep(tmp_path / "reference", None))


def assert_killed_then_resumed_exactly(folder: Path, reference) -> None:
    """A sweep in ``folder`` whose worker is SIGKILLed mid-trial ends exactly as ``reference``."""
    run = sweep(folder, "kill")
    killed = run[0][run[0]["state"] == "FAIL"]
    assert len(killed) == 1 and "died" in killed["error"].iloc[0]
    assert_resumed_exactly(run, reference)
    # The retry's own event file (the newest) starts at epoch 5: it trained 5..13, not 0..13.
    retry = run[0][(run[0]["state"] == "COMPLETE") & (run[0]["params_units"] == 32)].iloc[0]
    newest = max(Path(retry["logdir"], "validation").glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime)
    alone = folder / "newest" / "validation"
    alone.mkdir(parents=True)
    shutil.copy(newest, alone)
    steps = sweeper.read_tensorboard(alone.parent).query("tag == 'epoch_loss'")["step"]
    assert steps.min() == 5 and steps.tolist() == sorted(set(steps))


def test_ctrl_c_then_the_same_command_resumes_the_trial_and_it_ends_exactly_as_uninterrupted(tmp_path, reference):
    path = write_study(tmp_path, "ctrl-c")
    env = {**os.environ, "SWEEPER_BACKUP_EVERY_S": "0"}
    command = [sys.executable, "-m", "sweeper", "run", str(path), "--jobs", "2"]
    first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 128 + signal.SIGINT, first.stderr
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    run = report(tmp_path)
    assert (run[0].loc[run[0]["state"] == "FAIL", "stop_reason"] == "interrupted").all()
    assert_resumed_exactly(run, reference)
