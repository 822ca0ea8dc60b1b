"""A real sweep on a Keras backend other than TensorFlow, and what it must have written: shared by its tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import DIGITS_DATA, STUDY, env_without
from tbparse import SummaryReader
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

import sweeper as sw

# The conftest's study, smaller: 4 trials of 4 epochs, still with pruning, checkpoints and
# TensorBoard. A threshold prunes the hopeless learning rate at its second epoch whatever
# order the trials end in; a median pruner waits for two finished trials, and PyTorch's
# epochs are so short that the hopeless trials can end before that.
PRUNER = "optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)"
THRESHOLD = "optuna.pruners.ThresholdPruner(lower=0.5, n_warmup_steps=1)"


@dataclass(frozen=True)
class Swept:
    """A finished sweep: its folder, the CLI run and its trials.csv."""

    root: Path
    run: subprocess.CompletedProcess
    trials: pd.DataFrame
    name: str


def sweep_on(backend: str, root: Path) -> Swept:
    """Runs the small study with ``sweeper run --jobs 2`` on ``backend``, TensorFlow not installed.

    Args:
        backend: The Keras backend, e.g. ``"jax"``.
        root: An empty folder for the study file, runs and reports.

    Returns:
        The sweep, which must have exited 0.
    """
    name = f"{backend}e2e"
    assert PRUNER in STUDY
    study = (
        STUDY.replace('name="e2e"', f'name="{name}"')
        .replace("epochs=6", "epochs=4")
        .replace("n_trials=8", "n_trials=4")
        .replace(PRUNER, THRESHOLD)
    )
    (root / "study.py").write_text(textwrap.dedent(DIGITS_DATA) + textwrap.dedent(study))
    env = {**env_without("tensorflow", root), "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    run = subprocess.run(
        [sys.executable, "-m", "sweeper", "run", "study.py", "--jobs", "2"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return Swept(root, run, pd.read_csv(root / "reports" / name / "trials.csv"), name)


def assert_ran_on_cpu_with_pruning(swept: Swept, backend: str) -> None:
    trials = swept.trials
    assert len(trials) == 4 and set(trials["state"]) == {"COMPLETE", "PRUNED"}, swept.run.stderr
    assert (trials["backend"] == backend).all() and (trials["device"] == "cpu").all()
    assert "Traceback" not in swept.run.stderr and "needs TensorFlow" not in swept.run.stderr


def assert_kept_checkpoints_evaluate_to_their_trials_value(swept: Swept) -> None:
    kept = swept.trials[swept.trials["checkpoint"].notna()]
    assert len(kept) == 2
    namespace: dict = {}
    exec(textwrap.dedent(DIGITS_DATA), namespace)
    (_, _), (x_val, y_val) = namespace["load_data"]()
    for row in kept.itertuples():
        model = keras.models.load_model(row.checkpoint)
        _, accuracy = model.evaluate(x_val, y_val, verbose=0)
        assert accuracy == pytest.approx(row.value, abs=1e-6)


def assert_epochs_csv_equals_the_event_files(swept: Swept) -> None:
    epochs = pd.read_csv(swept.root / "reports" / swept.name / "epochs.csv")
    for row in swept.trials.itertuples():
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


def assert_each_trial_has_its_hparams_session(swept: Swept) -> None:
    for row in swept.trials.itertuples():
        tags = {
            value.tag
            for path in Path(row.logdir).glob("events.out.tfevents.*")
            for event in EventFileLoader(str(path)).Load()
            for value in event.summary.value
        }
        assert "_hparams_/session_start_info" in tags
