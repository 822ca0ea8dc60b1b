"""TensorBoard without TensorFlow: driven hook by hook, it writes what Keras's TensorFlow callback writes."""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

import sweeper as sw
from sweeper.callbacks._event_file_tensorboard import EventFileTensorBoard, without_tensorflow_only
from sweeper.trial import _hparams

EPOCHS = [
    {"loss": 1.25, "accuracy": 0.5, "val_loss": 1.5, "val_accuracy": 0.25},
    {"loss": 0.75, "accuracy": 0.625, "val_loss": 1.0, "val_accuracy": 0.5},
    {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.875, "val_accuracy": 0.625},
]


@pytest.fixture
def model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def drive(callback, model, batches_per_epoch=2):
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, logs in enumerate(EPOCHS):
        callback.on_epoch_begin(epoch)
        for batch in range(batches_per_epoch):
            callback.on_train_batch_begin(batch)
            callback.on_train_batch_end(batch, {"loss": logs["loss"] + batch, "accuracy": logs["accuracy"]})
        callback.on_test_begin()
        callback.on_test_end({"loss": logs["val_loss"], "accuracy": logs["val_accuracy"]})
        model.optimizer.learning_rate.assign(0.01 / (epoch + 2))
        callback.on_epoch_end(epoch, dict(logs))
    callback.on_train_end()


def logged(logdir: Path) -> pd.DataFrame:
    frame = sw.read_tensorboard(logdir)
    return frame.drop(columns="wall_time").sort_values(["run", "tag", "step"]).reset_index(drop=True)


@pytest.mark.parametrize("update_freq", ["epoch", 1])
def test_the_event_files_read_back_as_keras_tensorflow_callbacks_do(model, tmp_path, update_freq):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    drive(EventFileTensorBoard(log_dir=str(mine), write_graph=False, update_freq=update_freq), model)
    model.optimizer.learning_rate.assign(0.01)
    drive(keras.callbacks.TensorBoard(log_dir=str(theirs), write_graph=False, update_freq=update_freq), model)
    pd.testing.assert_frame_equal(logged(mine), logged(theirs))
    tags = set(logged(mine).groupby("run")["tag"].unique().explode())
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= tags
    assert set(logged(mine)["run"]) == {"train", "validation"}


def test_it_is_a_keras_tensorboard_so_the_runner_finds_its_logdir_and_puts_it_first(tmp_path):
    from sweeper.trial._runner import _logdir, tensorboard_first

    callback = EventFileTensorBoard(log_dir=str(tmp_path))
    other = keras.callbacks.Callback()
    assert tensorboard_first([other, callback])[0] is callback and _logdir([callback]) == str(tmp_path)


def test_parameters_that_need_tensorflow_are_off_with_one_warning_each():
    params = {"log_dir": "x", "histogram_freq": 2, "write_graph": True, "write_images": False, "profile_batch": 0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = without_tensorflow_only(params, explicit={"histogram_freq"})
    assert [str(w.message) for w in caught] == [
        "TensorBoard(histogram_freq=2) needs TensorFlow's summaries, which sweeper writes only on "
        "the TensorFlow backend: here only the scalars are logged."
    ]  # write_graph=True is Keras's default, not the user's: no warning
    assert built["histogram_freq"] == 0 and built["write_graph"] is False and built["log_dir"] == "x"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        without_tensorflow_only(params, explicit={"write_graph"})
    assert any("write_graph=True" in str(w.message) for w in caught)


def _summaries(logdir: Path) -> dict[str, tuple[str, int, object]]:
    found = {}
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                found[value.tag] = (value.metadata.plugin_data.plugin_name, event.step, value.metadata.plugin_data)
    return found


def test_hparams_without_tensorflow_write_the_same_session_and_metrics(tmp_path, monkeypatch):
    params = {"lr": 0.01, "units": 32, "optimizer": "adam", "flag": True, "shape": (1, 2)}
    _hparams.write_hparams(str(tmp_path / "tf"), 3, params, {"best_val_accuracy": 0.75, "missing": None})
    monkeypatch.setattr(_hparams, "tensorflow_writes_summaries", lambda: False)
    _hparams.write_hparams(str(tmp_path / "free"), 3, params, {"best_val_accuracy": 0.75, "missing": None})
    assert _summaries(tmp_path / "free").keys() == _summaries(tmp_path / "tf").keys()
    free = _summaries(tmp_path / "free")
    assert free["_hparams_/session_start_info"][:2] == ("hparams", 0)
    sessions = [_session(_summaries(tmp_path / name)["_hparams_/session_start_info"][2]) for name in ("free", "tf")]
    assert sessions[0] == sessions[1] and sessions[0].session_start_info.group_name
    both = [logged(tmp_path / name).query("tag == 'best_val_accuracy'")["value"].to_numpy() for name in ("free", "tf")]
    np.testing.assert_array_equal(*both)


def _session(plugin_data):
    from tensorboard.plugins.hparams import plugin_data_pb2

    session = plugin_data_pb2.HParamsPluginData.FromString(plugin_data.content)
    session.session_start_info.ClearField("start_time_secs")  # when each was written
    return session
