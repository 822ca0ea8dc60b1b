"""Sweeper's own callbacks, driven hook by hook with scripted logs (no training)."""

import math
import subprocess

import keras
import numpy as np
import optuna
import pytest

from sweeper import MonitorNotFoundError
from sweeper.callbacks._atomic_checkpoint import AtomicModelCheckpoint
from sweeper.callbacks._temp_files import TEMP_PREFIX
from sweeper.callbacks._trial_recorder import TrialRecorder
from sweeper.search._pruning import PruningBridge


@pytest.fixture
def model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.stop_training = False
    return model


def drive(callback, model, epochs_logs):
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, logs in enumerate(epochs_logs):
        callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback.on_train_end()


def test_recorder_keeps_the_best_epoch_not_the_last(model):
    recorder = TrialRecorder("val_accuracy", "max")
    drive(recorder, model, [{"loss": 1.0, "val_accuracy": v} for v in (0.5, 0.8, 0.7, 0.75)])
    assert (recorder.best, recorder.best_epoch, recorder.epochs_run) == (0.8, 1, 4)
    assert recorder.diverged_epoch is None and not model.stop_training


def test_recorder_stops_at_once_when_the_loss_diverges(model):
    recorder = TrialRecorder("val_loss", "min")
    drive(
        recorder,
        model,
        [{"loss": 1.0, "val_loss": 0.9}, {"loss": math.nan, "val_loss": 0.5}, {"loss": 1.0, "val_loss": 0.1}],
    )
    assert model.stop_training and recorder.diverged_epoch == 1
    assert (recorder.best, recorder.epochs_run) == (0.9, 2)


@pytest.mark.parametrize("bad_loss", [math.nan, math.inf])
def test_recorder_stops_within_the_epoch_on_a_diverged_batch(model, bad_loss):
    recorder = TrialRecorder("val_loss", "min")
    recorder.set_model(model)
    recorder.on_train_begin()
    recorder.on_epoch_begin(0)
    recorder.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.9})
    recorder.on_epoch_begin(1)
    recorder.on_train_batch_end(0, {"loss": 0.8})
    assert not model.stop_training
    recorder.on_train_batch_end(1, {"loss": bad_loss})
    assert model.stop_training and recorder.diverged_epoch == 1
    # Keras still ends the cut epoch; its finite-looking value must not become the best.
    recorder.on_epoch_end(1, {"loss": bad_loss, "val_loss": 0.1})
    assert (recorder.best, recorder.best_epoch, recorder.diverged_epoch) == (0.9, 0, 1)


def test_recorder_counts_learning_rate_reductions(model):
    recorder = TrialRecorder("val_loss", "min")
    recorder.set_model(model)
    recorder.on_train_begin()
    for epoch, lr in enumerate([0.01, 0.005, 0.005, 0.001]):
        model.optimizer.learning_rate.assign(lr)
        recorder.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 1.0})
    assert recorder.lr_initial == pytest.approx(0.01)
    assert recorder.lr_final == pytest.approx(0.001)
    assert recorder.lr_reductions == 2


def test_recorder_lists_the_logged_keys_when_the_monitor_is_missing(model):
    recorder = TrialRecorder("val_acc", "max")
    with pytest.raises(MonitorNotFoundError, match="did you mean 'val_accuracy'"):
        drive(recorder, model, [{"loss": 1.0, "val_accuracy": 0.5, "val_loss": 1.0}])


def finished_trials(study, curves):
    for curve in curves:
        trial = study.ask()
        for step, value in enumerate(curve):
            trial.report(value, step)
        study.tell(trial, max(curve))


def test_bridge_prunes_a_trial_below_the_median_by_stopping_training(model):
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    )
    finished_trials(study, [[0.5, 0.7, 0.8, 0.9]] * 3)
    trial = study.ask()
    bridge = PruningBridge(trial, "val_accuracy", "max")
    drive(bridge, model, [{"val_accuracy": v} for v in (0.2, 0.3, 0.35, 0.4)])
    assert model.stop_training and bridge.pruned_epoch == 1  # warm-up step 0 is never pruned
    assert study.trials[-1].intermediate_values == {0: 0.2, 1: 0.3}


def test_bridge_reports_the_best_value_so_far_and_leaves_good_trials_alone(model):
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    finished_trials(study, [[0.5, 0.6, 0.7]])
    trial = study.ask()
    bridge = PruningBridge(trial, "val_accuracy", "max")
    drive(bridge, model, [{"val_accuracy": v} for v in (0.6, 0.9, 0.8)])
    assert not model.stop_training and bridge.pruned_epoch is None
    assert study.trials[-1].intermediate_values == {0: 0.6, 1: 0.9, 2: 0.9}


def test_bridge_leaves_a_trial_that_early_stopping_ended_to_early_stopping(model):
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    bridge = PruningBridge(study.ask(), "val_loss", "min")
    bridge.set_model(model)
    bridge.on_train_begin()
    model.stop_training = True  # EarlyStopping ran first in this epoch
    bridge.on_epoch_end(0, {"val_loss": 1.0})
    assert bridge.pruned_epoch is None


def checkpoint(tmp_path, **kwargs):
    defaults = dict(filepath=str(tmp_path / "best.keras"), monitor="val_loss", mode="min")
    return AtomicModelCheckpoint(**{**defaults, **kwargs})


def test_checkpoint_saves_only_improvements(model, tmp_path):
    callback = checkpoint(tmp_path, filepath=str(tmp_path / "ep{epoch:02d}-{val_loss:.2f}.keras"))
    drive(callback, model, [{"val_loss": v} for v in (0.9, 0.5, 0.7, 0.4)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep01-0.90.keras", "ep02-0.50.keras", "ep04-0.40.keras"]
    assert callback.best_path == str(tmp_path / "ep04-0.40.keras")
    assert isinstance(keras.models.load_model(callback.best_path), keras.Model)


def test_checkpoint_period_checks_only_every_nth_epoch(model, tmp_path):
    callback = checkpoint(tmp_path, filepath=str(tmp_path / "ep{epoch}.keras"), save_best_only=False, period=2)
    drive(callback, model, [{"val_loss": 1.0}] * 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep2.keras", "ep4.keras"]


def test_checkpoint_writes_classic_hdf5_that_load_model_reads(model, tmp_path):
    callback = checkpoint(tmp_path, filepath=str(tmp_path / "best.hdf5"))
    drive(callback, model, [{"val_loss": 0.3}])
    loaded = keras.models.load_model(tmp_path / "best.hdf5")
    x = np.ones((1, 4), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_checkpoint_weights_only_saves_the_best_epochs_weights(model, tmp_path):
    callback = checkpoint(tmp_path, filepath=str(tmp_path / "best.weights.h5"), save_weights_only=True)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_end(0, {"val_loss": 0.3})
    best = [w.copy() for w in model.get_weights()]
    model.set_weights([w + 1.0 for w in best])  # a worse epoch's weights must not reach the file
    callback.on_epoch_end(1, {"val_loss": 0.6})
    callback.on_train_end()

    fresh = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    fresh.load_weights(tmp_path / "best.weights.h5")
    assert all(np.array_equal(saved, kept) for saved, kept in zip(fresh.get_weights(), best, strict=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.weights.h5"]


def test_checkpoint_is_atomic_and_sweeps_stale_temp_files(model, tmp_path, monkeypatch):
    finished = subprocess.Popen(["true"])  # noqa: S603, S607
    finished.wait()
    dead_pid = finished.pid
    stale = tmp_path / f"{TEMP_PREFIX}{dead_pid}-best.keras"
    stale.write_bytes(b"half a model")
    live = tmp_path / f"{TEMP_PREFIX}1-best.keras"  # pid 1 is alive: another writer's file stays
    live.write_bytes(b"being written")
    callback = checkpoint(tmp_path)
    drive(callback, model, [{"val_loss": 0.5}])
    assert not stale.exists() and live.exists() and (tmp_path / "best.keras").exists()
    live.unlink()
    good = (tmp_path / "best.keras").read_bytes()

    def killed_mid_save(path, overwrite=True):
        with open(path, "wb") as half:
            half.write(b"trunc")
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save", killed_mid_save)
    with pytest.raises(KeyboardInterrupt):
        callback.on_epoch_end(1, {"val_loss": 0.1})
    # The best checkpoint is the previous, complete one; only a temp file holds the torn write.
    assert (tmp_path / "best.keras").read_bytes() == good
    assert [p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir()].count(True) == 1


def test_checkpoint_never_saves_the_weights_of_a_diverged_epoch(model, tmp_path):
    callback = checkpoint(tmp_path, monitor="val_accuracy", mode="max")
    drive(callback, model, [{"loss": 2.0, "val_accuracy": 0.1}])
    saved = (tmp_path / "best.keras").read_bytes()
    # NaN weights predict class 0 everywhere: a finite, even "better", accuracy.
    callback.on_epoch_end(1, {"loss": math.nan, "val_accuracy": 0.2})
    assert (tmp_path / "best.keras").read_bytes() == saved and callback.best == 0.1


def test_checkpoint_template_naming_an_unlogged_key_fails_clearly(model, tmp_path):
    callback = checkpoint(tmp_path, filepath=str(tmp_path / "{val_los:.2f}.keras"), save_best_only=False)
    with pytest.raises(MonitorNotFoundError, match=r"names \{val_los\}"):
        drive(callback, model, [{"val_loss": 0.5}])
