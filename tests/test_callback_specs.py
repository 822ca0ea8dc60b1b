"""Callback specs: classic Keras parameters validated, renamed or refused up front."""

from pathlib import Path

import keras
import optuna
import pytest

import sweeper as sw
from sweeper import StudyFileError, SweeperDeprecationWarning
from sweeper.callbacks import BuildContext, TrialPaths
from sweeper.callbacks._atomic_checkpoint import AtomicModelCheckpoint


def context(tmp_path: Path, number: int = 3) -> BuildContext:
    return BuildContext(TrialPaths(tmp_path / "trials" / str(number), number), "val_accuracy", "max")


def test_unknown_parameter_names_the_valid_ones_and_the_closest():
    with pytest.raises(StudyFileError) as error:
        sw.EarlyStopping(patiense=3)
    message = str(error.value)
    assert "EarlyStopping: unknown parameter 'patiense'" in message
    assert "did you mean patience?" in message and "restore_best_weights" in message


def test_reduce_lr_refuses_a_factor_of_one_among_the_choices():
    with pytest.raises(StudyFileError, match=r"factor=1\.0 is invalid"):
        sw.ReduceLROnPlateau(factor=sw.choice(0.1, 0.5, 1.0))


def test_reduce_lr_maps_the_old_epsilon_to_min_delta_with_a_warning(tmp_path):
    with pytest.warns(SweeperDeprecationWarning, match="epsilon=...\\) is the old name of min_delta"):
        spec = sw.ReduceLROnPlateau(epsilon=0.01)
    callback = spec.build(spec.resolve(optuna.trial.FixedTrial({})), context(tmp_path))
    assert isinstance(callback, keras.callbacks.ReduceLROnPlateau)
    assert abs(callback.min_delta) == 0.01


def test_reduce_lr_refuses_keywords_keras_would_swallow():
    with pytest.raises(StudyFileError, match="unknown parameter 'verbosity'"):
        sw.ReduceLROnPlateau(verbosity=1)


@pytest.mark.parametrize("name", ["batch_size", "write_grads", "embeddings_layer_names", "embeddings_data"])
def test_tensorboard_accepts_parameters_keras3_dropped_with_a_one_line_warning(tmp_path, name):
    with pytest.warns(SweeperDeprecationWarning, match=f"TensorBoard\\({name}=...\\) is ignored: Keras 3") as record:
        spec = sw.TensorBoard(**{name: 32 if name == "batch_size" else None})
    assert len(record) == 1 and "\n" not in str(record[0].message)
    callback = spec.build(spec.resolve(optuna.trial.FixedTrial({})), context(tmp_path))
    assert callback.log_dir == str(tmp_path / "trials" / "3" / "tensorboard")


def test_tensorboard_log_dir_is_one_folder_per_trial(tmp_path):
    relative = sw.TensorBoard(log_dir="logs").build({**sw.TensorBoard.defaults, "log_dir": "logs"}, context(tmp_path))
    assert relative.log_dir == str(tmp_path / "trials" / "3" / "logs")
    absolute = sw.TensorBoard(log_dir=str(tmp_path / "tb"))
    built = absolute.build(absolute.resolve(optuna.trial.FixedTrial({})), context(tmp_path, number=7))
    assert built.log_dir == str(tmp_path / "tb" / "7")


def test_searched_parameters_become_optuna_params_named_class_dot_param(tmp_path):
    spec = sw.EarlyStopping(patience=sw.choice(3, 6), min_delta=1e-3)
    assert list(spec.searched()) == ["EarlyStopping.patience"]
    values = spec.resolve(optuna.trial.FixedTrial({"EarlyStopping.patience": 6}))
    callback = spec.build(values, context(tmp_path))
    assert callback.patience == 6 and callback.min_delta == 1e-3
    # No monitor named: it watches the study's, in the study's resolved direction.
    assert callback.monitor == "val_accuracy" and callback.mode == "max"


def test_a_callback_with_its_own_monitor_keeps_keras_auto_mode(tmp_path):
    spec = sw.EarlyStopping(monitor="val_loss")
    callback = spec.build(spec.resolve(optuna.trial.FixedTrial({})), context(tmp_path))
    assert callback.monitor == "val_loss" and callback.mode == "auto"


def test_checkpoint_defaults_to_the_trials_best_keras_file(tmp_path):
    spec = sw.ModelCheckpoint()
    callback = spec.build(spec.resolve(optuna.trial.FixedTrial({})), context(tmp_path))
    assert isinstance(callback, AtomicModelCheckpoint)
    assert callback.filepath == str(tmp_path / "trials" / "3" / "checkpoints" / "best.keras")
    assert callback.save_best_only and callback.monitor == "val_accuracy" and callback.mode == "max"


def test_checkpoint_keeps_a_classic_hdf5_name_for_full_models():
    assert sw.ModelCheckpoint(filepath="model.{epoch:02d}.hdf5").params["filepath"] == "model.{epoch:02d}.hdf5"


def test_checkpoint_weights_only_hdf5_becomes_weights_h5_with_a_warning():
    with pytest.warns(SweeperDeprecationWarning, match="weights.h5"):
        spec = sw.ModelCheckpoint(filepath="w.hdf5", save_weights_only=True)
    assert spec.params["filepath"] == "w.weights.h5"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"filepath": "model.ckpt"}, "no model file extension"),
        ({"filepath": "best.keras", "save_weights_only": True}, "cannot hold weights only"),
        ({"save_freq": 100}, "use period=N"),
        ({"period": 0}, "period=0 is invalid"),
        ({"mode": "maximum"}, "mode='maximum' is invalid"),
    ],
)
def test_checkpoint_refuses_what_it_cannot_honour(params, message):
    with pytest.raises(StudyFileError, match=message):
        sw.ModelCheckpoint(**params)
