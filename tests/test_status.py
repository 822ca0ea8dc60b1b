"""``sweeper status``: the progress file a trial keeps, the status read from a study, and its rendering."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState, create_trial

from sweeper import StudyFileError
from sweeper.api._status import SweepStatus, status
from sweeper.callbacks import _progress_file
from sweeper.callbacks._progress_file import PROGRESS_FILE, ProgressFile, read_progress
from sweeper.callbacks._progress_record import write_progress
from sweeper.execution._status import COLUMNS, study_status
from sweeper.execution._status_view import header_lines, render_plain, render_terminal
from sweeper.trial._ownership import OWNER_ATTR, WORKER_ATTR, this_process

# ---------------------------------------------------------------- the progress file, hook by hook


class FakeClock:
    """Stands in for the callback module's ``time``: a monotonic clock the test moves."""

    def __init__(self) -> None:
        self.seconds = 100.0

    def monotonic(self) -> float:
        return self.seconds

    def time(self) -> float:
        return 1_700_000_000.0 + self.seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(_progress_file, "time", fake)
    return fake


@pytest.fixture
def writes(monkeypatch):
    """The records the callback writes, in order (still written to disk)."""
    written: list[dict] = []

    def spy(path, record):
        written.append(record)
        write_progress(path, record)

    monkeypatch.setattr(_progress_file, "write_progress", spy)
    return written


def test_the_progress_file_follows_a_fit_epoch_by_epoch(tmp_path, clock):
    path = tmp_path / "trials" / "0" / PROGRESS_FILE
    callback = ProgressFile(path, "val_accuracy", "max", epochs=3)
    callback.set_params({"epochs": 3, "steps": 4, "verbose": 0})
    callback.on_train_begin()
    first = read_progress(path)
    assert first == {
        "epoch": 0,
        "epochs": 3,
        "batch": None,
        "steps": 4,
        "value": None,
        "best": None,
        "epochs_done": 0,
        "started": clock.time(),
        "updated": clock.time(),
        "pid": os.getpid(),
    }
    for epoch, accuracy in enumerate([0.5, 0.8, 0.7]):
        callback.on_epoch_begin(epoch)
        assert read_progress(path)["batch"] is None  # a new epoch has finished no batch yet
        for batch in range(4):
            clock.seconds += 2.0
            callback.on_train_batch_end(batch, {"loss": 1.0})
            assert read_progress(path)["batch"] == batch
        callback.on_epoch_end(epoch, {"loss": 1.0, "val_accuracy": accuracy})
    last = read_progress(path)
    assert (last["epoch"], last["epochs_done"], last["batch"]) == (2, 3, 3)
    assert (last["value"], last["best"]) == (0.7, 0.8)  # the last epoch's value; the best by mode
    assert last["started"] == first["started"] and last["updated"] == clock.time()
    assert sorted(p.name for p in path.parent.iterdir()) == [PROGRESS_FILE]  # no temp file left


def test_batch_end_writes_at_most_once_per_every_s(tmp_path, clock, writes):
    path = tmp_path / PROGRESS_FILE
    callback = ProgressFile(path, "val_loss", "min", epochs=2, every_s=1.0)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    assert len(writes) == 2
    for step, batch in [(0.3, 0), (0.3, 1), (0.3, 2)]:
        clock.seconds += step
        callback.on_train_batch_end(batch)
    assert len(writes) == 2 and read_progress(path)["batch"] is None
    clock.seconds += 0.2  # 1.1 s since the last write
    callback.on_train_batch_end(3)
    assert len(writes) == 3 and read_progress(path)["batch"] == 3
    clock.seconds += 0.5
    callback.on_train_batch_end(4)
    assert len(writes) == 3
    # The epoch's end always writes, with the last batch seen even if its own write was skipped.
    callback.on_epoch_end(0, {"val_loss": 0.4})
    assert len(writes) == 4 and writes[-1]["batch"] == 4


def test_min_mode_skips_values_json_cannot_hold_and_a_new_fit_starts_afresh(tmp_path, clock):
    path = tmp_path / PROGRESS_FILE
    callback = ProgressFile(path, "val_loss", "min", epochs=5)
    callback.on_train_begin()
    for epoch, logs in enumerate([{"val_loss": 0.5}, {"val_loss": float("nan")}, {"loss": 1.0}, {"val_loss": 0.3}]):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, logs)
        if epoch in (1, 2):
            assert read_progress(path)["value"] is None and read_progress(path)["best"] == 0.5
    assert (read_progress(path)["best"], read_progress(path)["epochs_done"]) == (0.3, 4)
    clock.seconds += 10
    callback.on_train_begin()
    again = read_progress(path)
    assert (again["best"], again["epochs_done"], again["epoch"], again["started"]) == (None, 0, 0, clock.time())


def test_a_progress_file_that_cannot_be_written_never_stops_the_fit(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    callback = ProgressFile(blocker / "trial" / PROGRESS_FILE, "val_loss", "min", epochs=1)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0)
    callback.on_epoch_end(0, {"val_loss": 0.1})
    assert read_progress(blocker / "trial" / PROGRESS_FILE) is None


@pytest.mark.parametrize("content", [None, b'{"epoch": 1, "ep', b"[1, 2]", b"\xff\xfe\x00", b""])
def test_read_progress_is_none_for_a_missing_or_unreadable_file(tmp_path, content):
    path = tmp_path / PROGRESS_FILE
    if content is not None:
        path.write_bytes(content)
    assert read_progress(path) is None


# ---------------------------------------------------------------- the status of a hand-made study

NOW = time.time()
ELSEWHERE = {"host": "another-machine", "pid": 1, "started": 0.0}


def journal_study(root: Path, name: str = "s", **study_attrs) -> optuna.Study:
    journal = root / "runs" / name / "journal.log"
    journal.parent.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for key, value in study_attrs.items():
        study.set_user_attr(key, value)
    return study


def trials_dir(root: Path, name: str = "s") -> Path:
    return root / "runs" / name / "trials"


def add_finished(study: optuna.Study, state: TrialState, value: float | None = None, **attrs) -> None:
    study.add_trial(create_trial(state=state, value=value, user_attrs=attrs))


def add_running(study: optuna.Study, process: dict | None = None, reports=(), **attrs) -> int:
    """A RUNNING trial as the driver and a worker leave it: owner, worker, host and pid, its reports so far."""
    process = process or this_process()
    trial = study.ask()
    for key, value in {
        OWNER_ATTR: process,
        WORKER_ATTR: process,
        "host": process["host"],
        "pid": process["pid"],
    }.items():
        trial.set_user_attr(key, value)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    for step, value in enumerate(reports):
        trial.report(value, step)
    return trial.number


def progress(root: Path, number: int, **fields) -> None:
    record = {
        "epoch": 0,
        "epochs": 10,
        "batch": None,
        "steps": 20,
        "value": None,
        "best": None,
        "epochs_done": 0,
        "started": NOW - 4,
        "updated": NOW - 1,
        "pid": os.getpid(),
    }
    path = trials_dir(root) / str(number) / PROGRESS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_progress(path, {**record, **fields})


def test_a_running_trial_shows_its_progress_file_and_the_sweep_its_eta(tmp_path):
    study = journal_study(tmp_path, n_trials=10, monitor="val_accuracy")
    add_finished(study, TrialState.COMPLETE, 0.8, epochs_run=5, duration_s=10.0)
    add_finished(study, TrialState.PRUNED, epochs_run=5, duration_s=10.0)
    number = add_running(study, device="gpu:0")
    progress(tmp_path, number, epoch=2, batch=6, value=0.7, best=0.75, epochs_done=2)
    found = study_status(study, trials_dir(tmp_path), now=NOW)
    assert list(found.running.columns) == COLUMNS and len(found.running) == 1
    row = found.running.iloc[0].to_dict()
    assert row["worker"] == f"{socket.gethostname()}:{os.getpid()}" and row["device"] == "gpu:0"
    assert (row["epoch"], row["epochs"], row["batch"], row["steps"]) == (3, 10, 7, 20)  # 1-based, as printed
    assert (row["value"], row["best"], row["source"], row["health"]) == (0.7, 0.75, "progress", "running")
    assert row["updated_s_ago"] == pytest.approx(1.0)
    assert found.is_running and found.reason == "1 trial(s) progressing"
    assert (found.complete, found.pruned, found.failed, found.results) == (1, 1, 0, 2)
    assert (found.best_value, found.best_trial, found.n_trials, found.epochs_trained) == (0.8, 0, 10, 12)
    # 12 epochs in 24 s of trials: 0.5 epochs/s. Left: 7 unstarted trials of 5 epochs, and 3 for the running one.
    assert found.epochs_per_s == pytest.approx(0.5)
    assert found.eta_s == pytest.approx(38 / 0.5)


def test_without_a_progress_file_the_trials_optuna_reports_give_its_epoch(tmp_path):
    study = journal_study(tmp_path, epochs=20)
    add_running(study, reports=[0.5, 0.6, 0.6])
    row = study_status(study, trials_dir(tmp_path), now=NOW).running.iloc[0]
    assert (row["epoch"], row["epochs"], row["best"], row["source"], row["health"]) == (4, 20, 0.6, "optuna", "running")
    # The pruning bridge reports the best so far, not the epoch's value; nor does Optuna know the batch.
    assert row.isna()[["value", "batch", "steps"]].all()


def test_the_eta_needs_n_trials_or_an_epoch_budget(tmp_path):
    study = journal_study(tmp_path)  # a study from before sweeps recorded their budget
    add_finished(study, TrialState.COMPLETE, 0.8, epochs_run=5, duration_s=10.0)
    progress(tmp_path, add_running(study), epochs_done=2)
    found = study_status(study, trials_dir(tmp_path), now=NOW)
    assert found.is_running and found.epochs_per_s is not None and found.eta_s is None
    assert "neither n_trials nor an epoch budget" in header_lines(found)[-1]
    study.set_user_attr("epoch_budget", 13)  # 7 of its 13 epochs trained: 6 left
    budgeted = study_status(study, trials_dir(tmp_path), now=NOW)
    assert budgeted.eta_s == pytest.approx(6 / budgeted.epochs_per_s)


def test_a_sweep_whose_running_trials_went_silent_is_not_running(tmp_path):
    study = journal_study(tmp_path, n_trials=4)
    number = add_running(study, process=ELSEWHERE)  # another machine's: only its progress file tells
    progress(tmp_path, number, epochs_done=3, started=NOW - 1000, updated=NOW - 700)
    found = study_status(study, trials_dir(tmp_path), now=NOW)
    assert not found.is_running and found.eta_s is None
    assert found.running.iloc[0]["health"] == "silent"
    assert found.reason == (
        f"trial(s) {number} showed no progress for 11m40s (more than 10m00s): stuck, or killed on another machine"
    )
    assert header_lines(found)[0].startswith("study 's' not running: ")
    # A sweep of 10-minute epochs is not stuck after 700 s: the limit is 3 of its slowest epochs.
    add_finished(study, TrialState.COMPLETE, 0.5, epochs_run=2, duration_s=1200.0)
    assert study_status(study, trials_dir(tmp_path), now=NOW).is_running


def test_trials_whose_processes_exited_are_not_running(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    study = journal_study(tmp_path)
    number = add_running(study, process={"host": socket.gethostname(), "pid": finished.pid, "started": 0.0})
    progress(tmp_path, number, updated=NOW)  # fresh, yet its writer is gone
    found = study_status(study, trials_dir(tmp_path), now=NOW)
    assert not found.is_running and found.running.iloc[0]["health"] == "exited"
    assert f"the processes of trial(s) {number} have exited" in found.reason


def test_a_study_with_no_running_trial_is_not_running(tmp_path):
    study = journal_study(tmp_path, n_trials=2, monitor="val_accuracy")
    add_finished(study, TrialState.COMPLETE, 0.8, epochs_run=5, duration_s=10.0)
    add_finished(study, TrialState.FAIL, epochs_run=1, duration_s=2.0, stop_reason="interrupted")  # not a result
    found = study_status(study, trials_dir(tmp_path), now=NOW)
    assert (found.is_running, found.reason, found.results) == (False, "no trial is RUNNING", 1)
    assert found.running.empty and list(found.running.columns) == COLUMNS
    assert render_plain(found) == (
        "study 's' not running: no trial is RUNNING\n"
        "1/2 results: 1 complete, 0 pruned, 0 failed · best val_accuracy 0.8000 (trial 0) · 6 epochs trained\n"
    )


def test_the_plain_rendering_has_no_escape_codes_and_the_terminal_one_does(tmp_path):
    study = journal_study(tmp_path, n_trials=10, monitor="val_accuracy")
    add_finished(study, TrialState.COMPLETE, 0.8, epochs_run=5, duration_s=10.0)
    progress(tmp_path, add_running(study), epoch=2, batch=6, value=0.7, best=0.75, epochs_done=2)
    add_running(study, process=ELSEWHERE, reports=[0.4])
    found = study_status(study, trials_dir(tmp_path), now=NOW)
    plain = render_plain(found)
    assert "\x1b" not in plain
    lines = plain.splitlines()
    assert lines[0] == "study 's' running: 2 trial(s) progressing"
    assert lines[2].startswith("time left: about ")
    assert lines[3].split() == ["trial", "worker", "device", "epoch", "batch", "value", "best", "elapsed", "updated"]
    assert lines[4].split()[3:7] == ["3/10", "7/20", "0.7000", "0.7500"]
    assert lines[5].split()[:5] == ["2*", "another-machine:1", "cpu", "2/?", "-"]
    assert lines[-1].startswith("* no progress file")
    styled = render_terminal(found, width=120)
    assert "\x1b[" in styled and "another-machine:1" in styled


def test_status_reads_a_study_without_writing_to_it(tmp_path):
    study = journal_study(tmp_path, n_trials=3, monitor="val_accuracy")
    add_finished(study, TrialState.COMPLETE, 0.8, epochs_run=5, duration_s=10.0)
    # status() judges by the real clock, not NOW (module import time, minutes ago in a long suite).
    progress(tmp_path, add_running(study), epochs_done=1, started=time.time() - 4, updated=time.time() - 1)
    journal = tmp_path / "runs" / "s" / "journal.log"
    before = journal.read_bytes(), journal.stat().st_mtime_ns
    files = sorted(tmp_path.rglob("*"))
    found = status("s", runs_dir=tmp_path / "runs")
    assert isinstance(found, SweepStatus) and found.is_running and len(found.running) == 1
    assert (journal.read_bytes(), journal.stat().st_mtime_ns) == before
    assert sorted(tmp_path.rglob("*")) == files  # no lock, temp or journal file left behind
    assert "\x1b" not in found.text() and found.text() == render_plain(found)
    with pytest.raises(StudyFileError, match="no study named 'nope'"):
        status("nope", runs_dir=tmp_path / "runs")


def test_status_imports_no_tensorflow():
    code = "import sys, sweeper.api._status; print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- against a sweep running in a subprocess

SLOW_STUDY = """
import time

study = sw.Study(name="live", data=load_data, model=build_model, monitor="val_accuracy", epochs=300,
                 batch_size=128, n_trials=2, pruner=None, seed=0, sampler=optuna.samplers.RandomSampler(seed=0),
                 callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(0.3))])
"""


def poll_running_trial(runs: Path, deadline: float, after_epoch: int = 0):
    """The first running trial's row once a worker runs it past ``after_epoch``."""
    while time.monotonic() < deadline:
        try:
            found = status("live", runs_dir=runs)
        except StudyFileError:  # the sweep has not created its study yet
            found = None
        if found is not None and not found.running.empty:
            row = found.running.iloc[0]
            if pd.notna(row["worker"]) and row["epoch"] > after_epoch:
                assert found.is_running and row["source"] in ("progress", "optuna")
                return row
        time.sleep(0.3)
    raise AssertionError(f"no running trial got past epoch {after_epoch}")


def test_status_of_a_sweep_running_in_a_subprocess(tmp_path, write_study):
    path = write_study(SLOW_STUDY)
    runs = tmp_path / "runs"
    with open(tmp_path / "sweep.stderr", "w") as stderr:
        sweep = subprocess.Popen(
            [sys.executable, "-m", "sweeper", "run", str(path), "--jobs", "1"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 90
        first = poll_running_trial(runs, deadline)
        later = poll_running_trial(runs, deadline, after_epoch=int(first["epoch"]))
        assert later["trial"] == first["trial"] and later["elapsed_s"] > first["elapsed_s"]
    finally:
        sweep.send_signal(signal.SIGTERM)
        sweep.wait(timeout=60)
    assert sweep.returncode == 143, (tmp_path / "sweep.stderr").read_text()[-3000:]
    after = status("live", runs_dir=runs)
    assert not after.is_running, after.reason
    # Its trial ended as interrupted; had the run been killed instead, its processes would be gone.
    assert after.running.empty or set(after.running["health"]) == {"exited"}
    assert "\x1b" not in after.text()
