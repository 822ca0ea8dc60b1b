"""Trial time limits: a trial past its limit stops at a batch end; one that reaches none is killed."""

from __future__ import annotations

import time

import keras
import pandas as pd
import pytest
from conftest import sweep

from sweeper.callbacks._trial_timeout import TrialTimeLimit
from sweeper.execution._hung import STARTUP_S, hung_message, is_hung, trial_elapsed_s
from sweeper.study import Study


def limited(deadline: float) -> TrialTimeLimit:
    callback = TrialTimeLimit(deadline, limit_s=5)
    callback.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    callback.model.stop_training = False
    callback.on_train_begin()
    return callback


def test_the_limit_stops_training_at_the_first_batch_end_past_it():
    callback = limited(deadline=time.monotonic() + 0.2)
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0)
    assert not callback.model.stop_training and not callback.timed_out
    time.sleep(0.25)
    callback.on_epoch_begin(1)  # epoch begins are checked too: a slow epoch end would otherwise run one more
    assert callback.model.stop_training and callback.timed_out_epoch == 1


def test_a_fit_within_its_limit_is_never_stopped_and_state_resets_per_fit():
    callback = limited(deadline=time.monotonic() - 1)
    callback.on_train_batch_end(0)
    assert callback.timed_out
    callback.deadline = time.monotonic() + 60
    callback.on_train_begin()
    callback.model.stop_training = False
    for batch in range(3):
        callback.on_train_batch_end(batch)
    callback.on_epoch_end(0)
    assert not callback.timed_out and not callback.model.stop_training


def test_a_limit_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="limit_s=0"):
        TrialTimeLimit(0.0, 0)


@pytest.mark.parametrize("value", [0, -1, "60", True])
def test_a_bad_trial_timeout_in_the_study_file_names_the_field(value):
    with pytest.raises(Exception, match=f"trial_timeout={value!r} must be a positive number of seconds"):
        Study(name="s", data=lambda: None, model=lambda trial: None, trial_timeout=value)


def test_a_trial_is_hung_only_past_its_limit_plus_the_grace():
    assert not is_hung(1e9, limit_s=None, grace_s=1)
    assert not is_hung(14.9, limit_s=10, grace_s=5) and is_hung(15.1, limit_s=10, grace_s=5)


def test_a_trial_runs_from_its_fits_start_once_known_and_its_workers_startup_never_counts():
    assert trial_elapsed_s(0.0, {"started": 1000.0}, now_wall=1012.5) == 12.5
    # Sent just now, no fit yet: a fresh worker may still be importing TensorFlow.
    assert trial_elapsed_s(time.monotonic(), None) < -STARTUP_S + 1


def test_the_hung_message_says_where_the_trial_last_was():
    progress = {"epoch": 2, "batch": 16, "steps": 50, "updated": 1000.0}
    message = hung_message(10, 5, progress, now=1012.0)
    assert message.startswith("hung: no batch ended within the trial timeout of 10 s plus 5 s of grace")
    assert "last seen at epoch 3, batch 17 of 50 12 s ago" in message
    assert "never began an epoch" in hung_message(10, 5, None)


HANGS_THEN_SLOW = """
import threading
import time

HANG = threading.Event()


def build_slow_model(trial):
    if trial.number == 0:
        HANG.set()  # the first trial's data pipeline "deadlocks" after one batch
    return build_model(trial)


def crawl(batch, logs):
    if HANG.is_set():
        time.sleep(3600)
    time.sleep(0.05)  # 11 batches an epoch: 0.55 s an epoch, so 40 epochs run far past the limit


study = sw.Study(name="limits", data=load_data, model=build_slow_model, monitor="val_accuracy",
                 epochs=40, batch_size=128, n_trials=2, pruner=None, seed=0, trial_timeout=2,
                 sampler=optuna.samplers.GridSampler({"lr": [1e-2]}, seed=0),
                 callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=crawl), sw.TensorBoard()])
"""


def test_a_hung_trial_is_killed_and_a_slow_one_stops_at_its_limit_and_both_count(tmp_path, write_study, monkeypatch):
    monkeypatch.setenv("SWEEPER_HUNG_GRACE_S", "2")
    path = write_study(HANGS_THEN_SLOW)
    started = time.monotonic()
    result = sweep("run", str(path), "--jobs", "1", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    trials = pd.read_csv(tmp_path / "reports" / "limits" / "trials.csv").set_index("trial")
    assert len(trials) == 2  # neither was retried: a timeout is a result
    hung, slow = trials.loc[0], trials.loc[1]
    assert (hung["state"], hung["stop_reason"]) == ("FAIL", "timeout")
    assert "hung: no batch ended within the trial timeout of 2 s plus 2 s of grace" in hung["error"]
    assert "last seen at epoch 1" in hung["error"] and "its worker was killed and replaced" in hung["error"]
    # The slot kept working: the next trial ran on a fresh worker, and stopped itself at its limit.
    assert hung["pid"] != slow["pid"]
    assert (slow["state"], slow["stop_reason"]) == ("COMPLETE", "timeout")
    assert 1 <= slow["epochs_run"] < 40 and slow["value"] > 0
    assert "trial    0 FAIL" in result.output and "timeout" in result.output
    assert time.monotonic() - started < 120
