import numpy as np
import optuna
import pytest
from optuna.trial import TrialState, create_trial

from sweeper import MonitorNotFoundError, StudyFileError
from sweeper.reports._trials import trials_frame
from sweeper.storage._redact import redact
from sweeper.study._data import study_data
from sweeper.study._direction import check_monitor, is_better, resolve_mode
from sweeper.trial._outcome import count_results, counts_as_result, epoch_budget_spent, epochs_trained


def trial(state, stop_reason=None):
    attrs = {} if stop_reason is None else {"stop_reason": stop_reason}
    value = 0.5 if state == TrialState.COMPLETE else None
    return create_trial(
        state=state, value=value, user_attrs=attrs, intermediate_values={0: 0.1} if state == TrialState.PRUNED else None
    )


def test_results_are_complete_pruned_and_failures_of_the_trial_itself():
    trials = [
        trial(TrialState.COMPLETE),
        trial(TrialState.PRUNED),
        trial(TrialState.FAIL, "diverged"),
        trial(TrialState.FAIL, "error"),
        trial(TrialState.FAIL, "interrupted"),  # cut short by the sweep: retried, not counted
        trial(TrialState.RUNNING),
        trial(TrialState.WAITING),
        create_trial(state=TrialState.FAIL, user_attrs={"stop_reason": "error", "retried": True}),  # its retry counts
    ]
    assert [counts_as_result(t) for t in trials] == [True, True, True, True, False, False, False, False]
    assert count_results(trials) == 4


def test_epochs_trained_counts_finished_trials_by_epochs_run_and_running_ones_by_their_reports():
    trials = [
        create_trial(state=TrialState.COMPLETE, value=0.9, user_attrs={"epochs_run": 12}),
        create_trial(
            state=TrialState.PRUNED, user_attrs={"epochs_run": 3}, intermediate_values={0: 0.1, 1: 0.2, 2: 0.2}
        ),
        create_trial(state=TrialState.RUNNING, intermediate_values={0: 0.3, 1: 0.4}),  # 2 epochs so far
        create_trial(state=TrialState.WAITING),
    ]
    assert epochs_trained(trials) == 17
    assert epoch_budget_spent(trials, 17) and not epoch_budget_spent(trials, 18)
    assert not epoch_budget_spent(trials, None)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgresql://alice:s3cret@db:5432/optuna", "postgresql://alice:***@db:5432/optuna"),
        (
            "could not connect to mysql+pymysql://u:p%40ss@h/db: refused",
            "could not connect to mysql+pymysql://u:***@h/db: refused",
        ),
        ("sqlite:///runs/x.db", "sqlite:///runs/x.db"),
        ("/abs/runs/digits/journal.log", "/abs/runs/digits/journal.log"),
    ],
)
def test_redact_hides_passwords_in_urls(text, expected):
    assert redact(text) == expected


def test_keras_auto_mode_rule_without_a_model():
    assert resolve_mode("val_loss", "auto") == "min"
    assert resolve_mode("loss", "auto") == "min"
    assert resolve_mode("val_accuracy", "min") == "min"
    with pytest.raises(StudyFileError, match="pass mode='max' or mode='min'"):
        resolve_mode("val_f1", "auto")


def test_keras_auto_mode_rule_reads_the_compiled_metric_direction():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc"), "mae"])
    model.evaluate(np.zeros((4, 3), "float32"), np.zeros((4, 1)), verbose=0)
    assert resolve_mode("val_auc", "auto", model) == "max"
    assert resolve_mode("val_mae", "auto", model) == "min"


def test_is_better_honours_direction_and_min_delta():
    assert is_better(0.5, None, "max")
    assert is_better(0.6, 0.5, "max") and not is_better(0.6, 0.5, "min")
    assert not is_better(0.505, 0.5, "max", min_delta=0.01)


def test_missing_monitor_lists_keys_and_suggests_the_closest():
    with pytest.raises(MonitorNotFoundError) as error:
        check_monitor("val_acc", ["loss", "accuracy", "val_loss", "val_accuracy"], owner="Study monitor")
    message = str(error.value)
    assert "Study monitor='val_acc' is not logged" in message
    assert "['accuracy', 'loss', 'val_accuracy', 'val_loss']" in message and "did you mean 'val_accuracy'?" in message


def test_data_shapes_are_checked():
    x, y = np.zeros((10, 4)), np.zeros(10)
    data = study_data(((x, y), (x[:3], y[:3])))
    assert data.fit_arguments(8)["batch_size"] == 8 and len(data.probe_batch(2)[0]) == 2
    with pytest.raises(StudyFileError, match="not a \\(train, val\\) pair"):
        study_data((x, y, x))
    with pytest.raises(StudyFileError, match="has 10 inputs but 3 targets"):
        study_data(((x, y[:3]), None))


def test_data_may_be_tf_datasets():
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices((np.zeros((10, 4)), np.zeros(10))).batch(4)
    data = study_data((train, train))
    assert data.is_dataset and "batch_size" not in data.fit_arguments(32)
    assert data.fit_arguments(32)["validation_data"] is train


def test_an_error_line_reads_as_sentences_before_its_fix():
    assert (
        str(StudyFileError("raised X: boom", source="s.py:3", fix="fix it.")) == "s.py:3: raised X: boom. Fix: fix it."
    )
    assert str(StudyFileError("is wrong.", fix="f.")) == "is wrong. Fix: f."
    assert str(StudyFileError("no fix given")) == "no fix given"


def test_a_study_written_before_the_rename_reports_its_diverged_trials_as_diverged():
    study = optuna.create_study()
    study.add_trial(trial(TrialState.FAIL, "nan"))  # what sweeper stored before the stop reason was renamed
    study.add_trial(trial(TrialState.COMPLETE, "max_epochs"))
    trials = trials_frame(study)
    assert trials["stop_reason"].tolist() == ["diverged", "max_epochs"]
    assert counts_as_result(study.trials[0])
