"""A real sweep through the CLI: 2 worker processes, real fits on sklearn digits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import pandas as pd
import pytest
from conftest import STUDY, sweep


def test_run_exits_0_and_prints_the_best_trial(swept):
    _, _, result, _ = swept
    assert result.exit_code == 0, result.output
    assert "best trial:" in result.output and "checkpoint:" in result.output


def test_without_a_terminal_the_output_is_plain_lines_without_escape_codes(swept):
    output = swept[2].output
    assert "\x1b" not in output and "\r" not in output  # no live view: CliRunner's streams are no terminal
    lines = [line for line in output.splitlines() if line.startswith("trial ")]
    assert len(lines) == 8 and all(re.match(r"trial +\d+ (COMPLETE|PRUNED|FAIL) ", line) for line in lines)


def test_trials_ran_in_two_reused_worker_processes(swept):
    trials = swept[3]
    assert trials["pid"].nunique() == 2
    assert (trials["pid"] != os.getpid()).all()


def test_some_trials_were_pruned_and_some_completed(swept):
    states = swept[3]["state"].value_counts()
    assert states.get("PRUNED", 0) >= 1 and states.get("COMPLETE", 0) >= 1
    pruned = swept[3][swept[3]["state"] == "PRUNED"]
    assert (pruned["stop_reason"] == "pruned").all() and (pruned["epochs_run"] < 6).all()
    assert (pruned["params_lr"] == 1e-6).all()


def test_trials_csv_has_the_design_columns(swept):
    columns = set(swept[3].columns)
    assert {
        "trial",
        "state",
        "value",
        "best_epoch",
        "epochs_run",
        "stop_reason",
        "lr_initial",
        "lr_final",
        "lr_reductions",
        "duration_s",
        "checkpoint",
        "logdir",
        "params_lr",
        "params_EarlyStopping.patience",
        "datetime_start",
        "datetime_complete",
    } <= columns
    assert len(swept[3]) == 8
    finished = swept[3][swept[3]["state"].isin(["COMPLETE", "PRUNED"])]
    assert (pd.to_datetime(finished["datetime_complete"]) >= pd.to_datetime(finished["datetime_start"])).all()


def test_only_the_two_best_checkpoints_are_kept_and_each_evaluates_to_its_trials_value(swept):
    import sklearn.datasets

    root, _, _, trials = swept
    x, y = sklearn.datasets.load_digits(return_X_y=True)
    x_val, y_val = (x[1400:] / 16.0).astype("float32"), y[1400:]
    complete = trials[trials["state"] == "COMPLETE"].sort_values(["value", "trial"], ascending=[False, True])
    best_two = complete.head(2)
    on_disk = sorted((root / "runs" / "e2e" / "trials").glob("*/checkpoints/*"))
    assert sorted(map(str, on_disk)) == sorted(best_two["checkpoint"])  # keep_checkpoints=2: no more, no less
    for row in best_two.itertuples():
        assert Path(row.checkpoint).parent.name == "checkpoints"
        artifact = root / "runs" / "e2e" / "artifacts" / row.checkpoint_artifact
        assert os.stat(artifact).st_ino == os.stat(row.checkpoint).st_ino  # the artifact is the file, not a copy
        model = keras.models.load_model(row.checkpoint)
        accuracy = model.evaluate(x_val, y_val, verbose=0, return_dict=True)["accuracy"]
        assert accuracy == pytest.approx(row.value, abs=1e-6)
    others = trials[~trials["trial"].isin(best_two["trial"])]
    assert others["checkpoint"].isna().all()
    reason = {"PRUNED": "pruned", "FAIL": "failed", "COMPLETE": "not among the 2 best"}
    assert (others["checkpoint_deleted"] == others["state"].map(reason)).all()
    assert (trials["tensorboard_mb"] > 0).all() and (best_two["checkpoint_mb"] > 0).all()


def test_each_trial_has_tensorboard_event_files(swept):
    root = swept[0]
    for number in swept[3]["trial"]:
        logdir = root / "runs" / "e2e" / "trials" / str(number) / "tensorboard"
        assert list((logdir / "train").glob("events.out.tfevents.*")), logdir
        assert list((logdir / "validation").glob("events.out.tfevents.*")), logdir


def test_resume_reaches_exactly_n_trials(swept):
    root, study_file, _, _ = swept
    result = sweep("run", str(study_file), "--jobs", "2", "--n-trials", "10", cwd=root)
    assert result.exit_code == 0, result.output
    assert "resuming at 8" in result.output
    assert len(pd.read_csv(root / "reports" / "e2e" / "trials.csv")) == 10
    # Nothing left to run: no worker starts (no "sweeping ..." line), and the reports are rebuilt.
    (root / "reports" / "e2e" / "trials.csv").unlink()
    again = sweep("run", str(study_file), "--n-trials", "10", cwd=root)
    assert again.exit_code == 0, again.output
    assert "nothing to do: study 'e2e' holds 10 of 10 results" in again.output
    assert "sweeping" not in again.output and "trial " not in again.output.split("report:")[0]
    assert len(pd.read_csv(root / "reports" / "e2e" / "trials.csv")) == 10


def test_ls_best_and_report_find_the_study_by_name(swept):
    root = swept[0]
    listing = sweep("ls", cwd=root)
    assert "e2e" in listing.output
    best = sweep("best", "e2e", cwd=root)
    assert best.exit_code == 0 and "best trial:" in best.output
    # Counted from 1 as Keras prints epochs, with the 0-based index the CSVs hold beside it.
    trials = pd.read_csv(root / "reports" / "e2e" / "trials.csv").set_index("trial")
    number = int(best.output.split("best trial:")[1].split()[0])
    best_epoch, epochs_run = (int(trials.loc[number, column]) for column in ("best_epoch", "epochs_run"))
    assert f"at epoch {best_epoch + 1} of {epochs_run} run (best_epoch={best_epoch}, 0-based" in best.output
    report = sweep("report", "e2e", cwd=root)
    assert report.exit_code == 0 and "trials.csv" in report.output


@pytest.mark.parametrize("command", ["best", "report", "tensorboard"])
def test_unknown_study_is_one_line_and_exit_2(tmp_path, command):
    result = sweep(command, "nope", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no study named 'nope'" in result.output


def test_python_dash_m_sweeper_rejects_a_bad_study_without_writing(tmp_path, write_study):
    path = write_study("study = sw.Study(name='bad', data=load_data, model=build_model, monitor='val_acc')\n")
    process = subprocess.run(
        [sys.executable, "-m", "sweeper", "run", str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 2, process.stderr
    error_lines = [line for line in process.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "did you mean 'val_accuracy'?" in error_lines[0]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()


def test_a_worker_that_outgrows_its_memory_budget_is_recycled_between_trials(tmp_path, write_study):
    path = write_study(STUDY.replace('name="e2e"', 'name="recycle"').replace("epochs=6", "epochs=2"))
    env = {**os.environ, "SWEEPER_WORKER_MEMORY_MB": "1"}
    process = subprocess.run(
        [sys.executable, "-m", "sweeper", "run", str(path), "--jobs", "1", "--n-trials", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    trials = pd.read_csv(tmp_path / "reports" / "recycle" / "trials.csv")
    # One worker at a time, yet a fresh process after each trial; no trial lost to it.
    assert len(trials) == 3 and trials["pid"].nunique() >= 2
    assert set(trials["state"]) <= {"COMPLETE", "PRUNED"}


def test_an_epoch_budget_stops_starting_trials_once_it_is_spent(tmp_path, write_study):
    path = write_study(STUDY.replace('name="e2e"', 'name="budget"'))
    process = subprocess.run(
        [sys.executable, "-m", "sweeper", "run", str(path), "--jobs", "1", "--epoch-budget", "8"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    assert "sweeping 8 trials or 8 epochs, whichever comes first," in process.stderr
    epochs = pd.read_csv(tmp_path / "reports" / "budget" / "trials.csv").sort_values("trial")["epochs_run"]
    # One worker: every trial but the last started with budget to spare, and the last one spent it.
    assert len(epochs) < 8 and epochs.iloc[:-1].sum() < 8 <= epochs.sum()


def test_the_driver_process_never_imports_tensorflow(tmp_path, write_study):
    path = write_study(STUDY.replace('name="e2e"', 'name="light"').replace("epochs=6", "epochs=1"))
    code = (
        f"import sys, sweeper; result = sweeper.run({str(path)!r}, n_trials=1, progress=False); "
        "print(result.n_results, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    process = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    assert process.stdout.split() == ["1", "False", "False"]


def test_the_driver_imports_the_report_libraries_while_the_last_trial_runs(tmp_path, write_study, monkeypatch):
    import optuna

    import sweeper
    import sweeper.api._sweep

    path = write_study(STUDY.replace('name="e2e"', 'name="tail"').replace("epochs=6", "epochs=2"))
    journal = tmp_path / "runs" / "tail" / "journal.log"
    states_at_tail = []

    def record_states() -> None:
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
        trials = optuna.load_study(study_name="tail", storage=storage).get_trials(deepcopy=False)
        states_at_tail.append(sorted(trial.state.name for trial in trials))

    monkeypatch.setattr(sweeper.api._sweep, "import_report_libraries", record_states)
    sweeper.run(path, jobs=2, n_trials=3, runs_dir=tmp_path / "runs", reports_dir=tmp_path / "reports", progress=False)
    # Called once: every trial asked, the last one still training on the other worker.
    assert len(states_at_tail) == 1
    assert len(states_at_tail[0]) == 3 and states_at_tail[0].count("RUNNING") == 1


DATASET_STUDY = """
import tensorflow as tf


def load_datasets():
    (x, y), (x_val, y_val) = load_data()
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1400, seed=0).batch(128)
    return train, tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(128)


study = sw.Study(name="datasets", data=load_datasets, model=build_model, monitor="val_accuracy", epochs=2,
                 n_trials=2, pruner=None, seed=0)
"""


def test_a_quiet_dataset_sweep_warns_only_of_more_jobs_than_cores(tmp_path, write_study, monkeypatch, capfd):
    import sweeper

    path = write_study(DATASET_STUDY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # as on a 1-core machine: --jobs 2 oversubscribes it
    with pytest.warns(UserWarning, match=r"--jobs 2 on 1 CPU core: the 2 workers share the cores"):
        result = sweeper.run(path, jobs=2, progress=False)
    assert result.n_results == 2
    # The workers write to the same stderr: neither Optuna's INFO lines nor Keras's dataset
    # warning (a dataset is shuffled by its own pipeline) reach the console.
    output = capfd.readouterr()
    assert "A new study created" not in output.err and "shuffle=True" not in output.err, output.err
