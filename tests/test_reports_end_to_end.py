"""Reports of a real sweep: epochs.csv equals the event files, and the tables agree with each other."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import sweep
from tbparse import SummaryReader
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

import sweeper as sw


@pytest.fixture(scope="module")
def reports(swept):
    root = swept[0]
    return root, root / "reports" / "e2e"


def test_run_writes_every_report(reports):
    _, folder = reports
    assert {p.name for p in folder.iterdir()} >= {"trials.csv", "epochs.csv", "settings.csv", "report.html"}


def test_epochs_csv_equals_the_tensorboard_event_files_exactly(reports):
    root, folder = reports
    epochs = pd.read_csv(folder / "epochs.csv")
    trials = pd.read_csv(folder / "trials.csv")
    for row in trials.itertuples():
        mine = epochs[epochs["trial"] == row.trial].set_index("epoch")
        assert len(mine) == row.epochs_run  # pruned and early-stopped trials have fewer rows, none lost
        for split, prefix in (("train", ""), ("validation", "val_")):
            theirs = SummaryReader(f"{row.logdir}/{split}").tensors  # Keras 3 logs tensor summaries
            accuracy = theirs[theirs["tag"] == "epoch_accuracy"].set_index("step")["value"]
            np.testing.assert_array_equal(mine[f"{prefix}accuracy"].to_numpy(np.float32), accuracy.to_numpy(np.float32))


def test_each_trials_value_is_its_best_logged_epoch(reports):
    _, folder = reports
    epochs = pd.read_csv(folder / "epochs.csv")
    trials = pd.read_csv(folder / "trials.csv").set_index("trial")
    best = epochs.groupby("trial")["val_accuracy"].max()
    best_epoch = epochs.loc[epochs.groupby("trial")["val_accuracy"].idxmax()].set_index("trial")["epoch"]
    for trial, row in trials.iterrows():
        assert np.float32(row["value"]) == np.float32(best[trial])
        assert row["best_epoch"] == best_epoch[trial]


def test_settings_csv_counts_every_trial_once(reports):
    _, folder = reports
    settings = pd.read_csv(folder / "settings.csv")
    trials = pd.read_csv(folder / "trials.csv")
    assert "params_EarlyStopping.patience" in settings.columns
    assert settings["trials"].sum() == len(trials)
    assert settings["pruned"].sum() == (trials["state"] == "PRUNED").sum()


def test_each_trial_writes_hparams_for_the_tensorboard_dashboard(reports):
    root, folder = reports
    trials = pd.read_csv(folder / "trials.csv")
    row = trials.iloc[0]
    plugins = set()
    for path in sorted(Path(row["logdir"]).glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            plugins |= {value.metadata.plugin_data.plugin_name for value in event.summary.value}
    assert "hparams" in plugins


def test_load_report_returns_the_same_tables(reports):
    root, folder = reports
    report = sw.load_report("e2e", runs_dir=root / "runs")
    on_disk = pd.read_csv(folder / "epochs.csv")
    assert report.monitor == "val_accuracy" and report.mode == "max"
    assert len(report.epochs) == len(on_disk) and list(report.epochs.columns) == list(on_disk.columns)
    assert report.best is not None and report.best["state"] == "COMPLETE"


def test_report_command_rebuilds_and_lists_the_files(reports):
    root, folder = reports
    (folder / "report.html").unlink()
    result = sweep("report", "e2e", cwd=root)
    assert result.exit_code == 0, result.output
    assert (folder / "report.html").exists() and "settings.csv" in result.output


FAILING_STUDY = """
def build_model_or_fail(trial):
    model = build_model(trial)
    if trial.params["lr"] < 1e-3:
        raise ValueError("this learning rate is not supported")
    return model


study = sw.Study(
    name="failing", data=load_data, model=build_model_or_fail, monitor="val_accuracy", epochs=2, n_trials=4,
    sampler=optuna.samplers.GridSampler({"lr": [1e-2, 1e-6]}, seed=0), pruner=None,
    callbacks=[sw.ModelCheckpoint(), sw.TensorBoard()],
)
"""


def test_failed_trials_show_in_the_reports_with_their_traceback(tmp_path, write_study):
    path = write_study(FAILING_STUDY)
    run = sweep("run", str(path), "--jobs", "2", cwd=tmp_path)
    assert run.exit_code == 0, run.output  # a failing trial never kills the sweep
    trials = pd.read_csv(tmp_path / "reports" / "failing" / "trials.csv")
    failed = trials[trials["state"] == "FAIL"]
    assert len(trials) == 4 and len(failed) >= 1
    assert (failed["stop_reason"] == "error").all()
    assert failed["error"].str.contains("ValueError: this learning rate is not supported").all()
    report = sweep("report", "failing", cwd=tmp_path)
    assert "failed (error): ValueError: this learning rate is not supported" in report.output
    assert f'File "{path}", line' in report.output and "in build_model_or_fail" in report.output
    html = (tmp_path / "reports" / "failing" / "report.html").read_text()
    assert "<details" in html and "this learning rate is not supported" in html


LR_STUDY = """
study = sw.Study(
    name="lr", data=load_data, model=build_model, monitor="val_loss", epochs=5, batch_size=128, n_trials=1,
    pruner=None, seed=0, sampler=optuna.samplers.GridSampler({"lr": [1e-2]}),
    # min_delta=10: no epoch after the first improves, so every later epoch ends with a cut.
    callbacks=[sw.ReduceLROnPlateau(factor=0.3, patience=1, min_delta=10.0), sw.TensorBoard()],
)
"""


def test_epochs_csv_learning_rate_is_the_rate_each_epoch_trained_at_as_in_kerass_history(tmp_path, write_study):
    import keras
    from conftest import DIGITS_DATA

    path = write_study(LR_STUDY)
    assert sweep("run", str(path), cwd=tmp_path).exit_code == 0
    logged = pd.read_csv(tmp_path / "reports" / "lr" / "epochs.csv").sort_values("epoch")["learning_rate"]

    # The same fit in plain Keras, as a user would write it.
    namespace: dict = {}
    exec(DIGITS_DATA, namespace)
    (x, y), validation = namespace["load_data"]()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    plateau = keras.callbacks.ReduceLROnPlateau(factor=0.3, patience=1, min_delta=10.0)
    history = model.fit(x, y, batch_size=128, epochs=5, validation_data=validation, callbacks=[plateau], verbose=0)

    expected = history.history["learning_rate"]
    assert expected == pytest.approx([1e-2, 1e-2, 3e-3, 9e-4, 2.7e-4])  # cut after epochs 1, 2 and 3
    assert logged.tolist() == pytest.approx(expected, rel=1e-6)


def test_replaying_each_trials_own_early_stopping_reproduces_its_stop_and_value(reports):
    root, folder = reports
    trials = pd.read_csv(folder / "trials.csv").set_index("trial")
    replay = pd.read_csv(folder / "replay.csv")
    summary = pd.read_csv(folder / "replay_summary.csv")
    recorded = sw.load_report("e2e", runs_dir=root / "runs").early_stopping.set_index("trial")
    results = set(trials.index[trials["state"].isin(["COMPLETE", "PRUNED"])])
    assert set(recorded.index) >= results and set(replay["trial"]) >= results
    assert (recorded["max_epochs"] == 6).all() and (recorded["monitor"] == "val_accuracy").all()
    assert (recorded["mode"] == "max").all()  # the study's direction, as EarlyStopping watches the study's monitor
    assert sorted(replay["patience"].unique()) == [0, 1, 2, 3]  # every patience up to the largest searched
    assert len(replay) == 4 * replay["trial"].nunique() and len(summary) == 4
    complete = trials[trials["state"] == "COMPLETE"]
    assert len(complete) >= 2
    for trial, row in complete.iterrows():
        assert recorded.loc[trial, "patience"] == row["params_EarlyStopping.patience"]
        own = replay.loc[(replay["trial"] == trial) & (replay["patience"] == row["params_EarlyStopping.patience"])]
        assert len(own) == 1
        own = own.iloc[0]
        assert not own["censored"] and own["value"] == row["value"] and own["value_change"] == 0
        assert own["epochs_run"] == row["epochs_run"] and own["epochs_saved"] == 0
        if row["stop_reason"] == "early_stopping":
            assert own["stop_epoch"] == row["epochs_run"] - 1
        else:
            assert row["stop_reason"] == "max_epochs" and row["epochs_run"] == 6
    html = (folder / "report.html").read_text()
    assert "<h2>EarlyStopping replay</h2>" in html and "Nothing to replay" not in html
