"""Two `sweeper run`s of one study at once share its n_trials: nothing lost, nothing trained twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import optuna
import pytest

from sweeper.storage._open import open_storage
from sweeper.trial._outcome import counts_as_result

SHARED = """
study = sw.Study(name="shared", data=load_data, model=build_model, monitor="val_accuracy", epochs=3,
                 batch_size=128, n_trials=6, pruner=None, seed=0)
"""


def start(path, cwd) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "sweeper", "run", str(path), "--jobs", "1"]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_runs_started_a_second_apart_end_with_exactly_n_trials(tmp_path, write_study):
    path = write_study(SHARED)
    first = start(path, tmp_path)
    time.sleep(1.0)  # the reported case: the second run starts while the first one is starting up
    second = start(path, tmp_path)
    outputs = [process.communicate(timeout=600) for process in (first, second)]
    for process, (_, stderr) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, stderr
        assert "UpdateFinishedTrialError" not in stderr and "Traceback" not in stderr, stderr

    storage = open_storage(str(tmp_path / "runs" / "shared" / "journal.log"))
    trials = optuna.load_study(study_name="shared", storage=storage).get_trials(deepcopy=False)
    assert sum(counts_as_result(t) for t in trials) == 6
    assert not [t for t in trials if t.state.name == "RUNNING"]
    # Every trial that trained is a result: no run ended another's live trial, none trained twice.
    trained = [t for t in trials if "epochs_run" in t.user_attrs]
    assert len(trained) == 6 and all(counts_as_result(t) for t in trained)
    # Both runs took part: each asked for trials of its own.
    owners = {t.user_attrs["owner"]["pid"] for t in trained}
    assert owners == {first.pid, second.pid}
    # What did not train was a surplus ask, ended at once as not needed.
    for spare in (t for t in trials if t not in trained):
        assert spare.user_attrs["stop_reason"] == "interrupted" and "not needed" in spare.user_attrs["error"]
