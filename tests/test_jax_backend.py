"""A real sweep on JAX with TensorFlow not installed: pruning, checkpoints, TensorBoard logs and reports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import DIGITS_DATA, STUDY, env_without
from tbparse import SummaryReader
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

import sweeper as sw

pytest.importorskip("jax")

# The conftest's study, smaller: 4 trials of 4 epochs, still with pruning, checkpoints and TensorBoard.
JAX_STUDY = (
    STUDY.replace('name="e2e"', 'name="jaxe2e"').replace("epochs=6", "epochs=4").replace("n_trials=8", "n_trials=4")
)


@pytest.fixture(scope="module")
def jax_swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("jax")
    (root / "study.py").write_text(textwrap.dedent(DIGITS_DATA) + textwrap.dedent(JAX_STUDY))
    env = {**env_without("tensorflow", root), "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    run = subprocess.run(
        [sys.executable, "-m", "sweeper", "run", "study.py", "--jobs", "2"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return root, run, pd.read_csv(root / "reports" / "jaxe2e" / "trials.csv")


def test_the_sweep_ran_on_jax_on_cpu_with_pruning(jax_swept):
    _, run, trials = jax_swept
    assert len(trials) == 4 and set(trials["state"]) == {"COMPLETE", "PRUNED"}, run.stderr
    assert (trials["backend"] == "jax").all() and (trials["device"] == "cpu").all()
    assert "Traceback" not in run.stderr and "needs TensorFlow" not in run.stderr


def test_the_kept_checkpoints_load_and_evaluate_to_their_trials_value(jax_swept):
    root, _, trials = jax_swept
    kept = trials[trials["checkpoint"].notna()]
    assert len(kept) == 2
    (_, _), (x_val, y_val) = _digits()
    for row in kept.itertuples():
        model = keras.models.load_model(row.checkpoint)
        _, accuracy = model.evaluate(x_val, y_val, verbose=0)
        assert accuracy == pytest.approx(row.value, abs=1e-6)


def test_epochs_csv_equals_its_own_event_files_read_back(jax_swept):
    root, _, trials = jax_swept
    epochs = pd.read_csv(root / "reports" / "jaxe2e" / "epochs.csv")
    for row in trials.itertuples():
        mine = epochs[epochs["trial"] == row.trial].set_index("epoch")
        assert len(mine) == row.epochs_run
        logs = sw.read_tensorboard(row.logdir)
        for split, prefix in (("train", ""), ("validation", "val_")):
            for metric in ("accuracy", "loss"):
                logged = logs[(logs["run"] == split) & (logs["tag"] == f"epoch_{metric}")].set_index("step")["value"]
                expected = mine[f"{prefix}{metric}"].to_numpy(np.float32)
                np.testing.assert_array_equal(expected, logged.to_numpy(np.float32))
        # Read by TensorBoard's own reader too, as the dashboard does.
        tensors = SummaryReader(f"{row.logdir}/train").tensors
        rate = tensors[tensors["tag"] == "epoch_learning_rate"]["value"].to_numpy(np.float32)
        np.testing.assert_array_equal(mine["learning_rate"].to_numpy(np.float32), rate)


def test_each_trial_has_its_hparams_session(jax_swept):
    _, _, trials = jax_swept
    for row in trials.itertuples():
        tags = {
            value.tag
            for path in Path(row.logdir).glob("events.out.tfevents.*")
            for event in EventFileLoader(str(path)).Load()
            for value in event.summary.value
        }
        assert "_hparams_/session_start_info" in tags


def _digits():
    namespace: dict = {}
    exec(textwrap.dedent(DIGITS_DATA), namespace)
    return namespace["load_data"]()
