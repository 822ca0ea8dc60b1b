"""The live view of ``sweeper run``: a table of the running trials on a terminal, the plain lines elsewhere.

The end-to-end tests drive the real CLI: under a pseudo-terminal (pexpect), replaying
what it wrote through a small terminal model to see the screen it leaves; and through
pipes, as CI logs and ``nohup`` see it.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import optuna
import pexpect
import pytest
from optuna.trial import TrialState, create_trial

from sweeper.backends.dask import _backend as dask_backend
from sweeper.backends.dask._cluster import _NewTrials
from sweeper.execution import _live
from sweeper.execution._live import LiveProgress, Throttle, progress_for
from sweeper.execution._progress import Progress
from sweeper.storage._open import default_storage, open_storage
from sweeper.trial._outcome import StopReason, TrialOutcome, outcome_of_trial

# A slow study: each epoch sleeps, so the table has time to show every trial at several epochs.
SLOW_STUDY = """
import time

study = sw.Study(
    name="live",
    data=load_data,
    model=build_model,
    monitor="val_accuracy",
    epochs={epochs},
    batch_size=128,
    n_trials={n_trials},
    pruner=None,
    seed=0,
    callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep({sleep_s}))],
)
"""
COLUMNS, ROWS = 160, 40
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Any output, token by token: an escape sequence, a carriage return, a newline, text; a lone ESC is unknown.
TOKEN = re.compile(r"\x1b\[(\??)([0-9;]*)([A-Za-z])|\r|\n|[^\x1b\r\n]+|\x1b")
HEADER = re.compile(r"trial\s+worker\s+device\s+epoch\s+batch\s+value\s+best\s+elapsed\s+updated")
# The status lines above the table.
STATUS_LINES = re.compile(r"^study 'live' (not )?running: |^\d+/\d+ results: |^time left: ")
# A running trial's row: trial, worker (host:pid, "-" before a worker takes it), device, epoch k/N.
ROW = re.compile(r"^\s*(\d+)\*?\s+(\S+:\d+|-)\s+(\S+)\s+(\d+)/(\d+)(?:\s|$)")


class Screen:
    """Just enough of a terminal to replay rich's Live: text, CR, LF, cursor up, erase line, SGR, cursor on/off.

    An escape sequence it does not know fails the test, rather than leaving a screen
    it got wrong.

    Args:
        width: Columns, past which text wraps.
    """

    def __init__(self, width: int = COLUMNS) -> None:
        self.width = width
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0
        self.cursor_shown = True

    def feed(self, text: str) -> Screen:
        for token in TOKEN.finditer(text):
            if token.group(3):
                self._control(token.group(1), token.group(2), token.group(3))
            elif token.group() == "\r":
                self.col = 0
            elif token.group() == "\n":
                self._line_feed()
            elif token.group() == "\x1b":
                raise AssertionError(
                    f"an escape sequence the test's terminal does not know: {text[token.start() :]!r:.40}"
                )
            else:
                self._write(token.group())
        return self

    def lines(self) -> list[str]:
        lines = ["".join(row).rstrip() for row in self.rows]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def _control(self, private: str, argument: str, command: str) -> None:
        count = int(argument) if argument.isdigit() else 1
        if private and argument == "25" and command in "hl":
            self.cursor_shown = command == "h"
        elif private:
            raise AssertionError(f"unknown private sequence ?{argument}{command}")
        elif command == "A":
            self.row = max(0, self.row - count)
        elif command == "K":
            row = self.rows[self.row]
            self.rows[self.row] = [] if argument == "2" else row[: self.col]
        elif command != "m":  # SGR: styles, which the screen's text does not hold
            raise AssertionError(f"unknown sequence {argument}{command}")

    def _line_feed(self) -> None:
        self.row += 1
        self.col = 0  # the pty turns "\n" into "\r\n" anyway
        while len(self.rows) <= self.row:
            self.rows.append([])

    def _write(self, text: str) -> None:
        for char in text:
            if self.col >= self.width:
                self._line_feed()
            row = self.rows[self.row]
            row.extend(" " * (self.col - len(row) + 1))
            row[self.col] = char
            self.col += 1


def write_slow_study(write_study, n_trials: int = 3, epochs: int = 6, sleep_s: float = 0.5) -> Path:
    return write_study(SLOW_STUDY.format(n_trials=n_trials, epochs=epochs, sleep_s=sleep_s))


def terminal_env() -> dict[str, str]:
    env = {**os.environ, "TERM": "xterm", "TF_CPP_MIN_LOG_LEVEL": "3"}
    for name in ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE"):
        env.pop(name, None)  # the pty's own size and nature decide, as in a user's terminal
    return env


def spawn_run(study_file: Path) -> tuple[object, io.BytesIO]:
    """``sweeper run`` under a pseudo-terminal, and everything it writes there."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "sweeper", "run", str(study_file), "--jobs", "1"],
        cwd=str(study_file.parent),
        env=terminal_env(),
        dimensions=(ROWS, COLUMNS),
        timeout=90,
    )
    written = io.BytesIO()
    child.logfile_read = written
    return child, written


def expected_lines(folder: Path, n_trials: int) -> list[str]:
    """The lines a plain run prints, rebuilt from the storage: the opening line, then one per trial it saw end.

    A trial the sweep itself ended on Ctrl-C gets no line, as the driver prints none for it.
    """
    storage = default_storage(folder / "runs" / "live")
    study = optuna.load_study(study_name="live", storage=open_storage(storage))
    trials = sorted(study.get_trials(deepcopy=False), key=lambda trial: trial.number)
    progress = Progress(n_trials, "val_accuracy", "max", stream=io.StringIO())
    progress.start("1 worker process(es)", storage, [])
    for count, trial in enumerate(trials, start=1):
        outcome = outcome_of_trial(trial)
        if trial.state.is_finished() and outcome.stop_reason != StopReason.INTERRUPTED.value:
            progress.update(outcome, trials[:count])
    return progress.stream.getvalue().splitlines()


def epochs_seen(text: str) -> dict[int, list[int]]:
    """For each trial, the epoch k of its "k/N" cell in every frame the table drew, in order."""
    seen: dict[int, list[int]] = {}
    for line in re.split(r"[\r\n]", CSI.sub("", text)):
        row = ROW.match(line)
        if row:
            seen.setdefault(int(row.group(1)), []).append(int(row.group(4)))
    return seen


def assert_left_plain_lines(screen: Screen, expected: list[str]) -> None:
    """The table and its status lines are gone, the cursor shown, and the screen starts with the plain run's lines."""
    lines = screen.lines()
    assert lines[: len(expected)] == expected
    left = [line for line in lines if HEADER.search(line) or STATUS_LINES.search(line)]
    assert not left, f"the live view was left on the screen: {left}"
    assert screen.cursor_shown


# ------------------------------------------------------------ end to end: a terminal, then a pipe


def test_on_a_terminal_the_table_follows_the_running_trials_and_leaves_every_finished_trials_line(
    write_study, tmp_path
):
    child, written = spawn_run(write_slow_study(write_study))
    child.expect(pexpect.EOF)
    child.close()
    output = written.getvalue().decode()
    assert child.exitstatus == 0, output[-2000:]
    plain = CSI.sub("", output)
    assert HEADER.search(plain), "no table header was drawn"
    assert re.search(r"\d+/3 results: \d+ complete, 0 pruned, 0 failed", plain)
    assert "time left: about" in plain
    rows = [ROW.match(line) for line in re.split(r"[\r\n]", plain)]
    assert any(row and re.fullmatch(r"\S+:\d+", row.group(2)) and row.group(3) == "cpu" for row in rows)
    advancing = {trial: epochs for trial, epochs in epochs_seen(output).items() if len(set(epochs)) >= 2}
    assert advancing, f"no trial's epoch advanced from one frame to another: {epochs_seen(output)}"
    assert all(epochs == sorted(epochs) for epochs in advancing.values())
    assert all(row.group(5) == "6" for row in rows if row)
    expected = expected_lines(tmp_path, 3)
    assert len(expected) == 1 + 3
    assert_left_plain_lines(Screen().feed(output), expected)


# A stopped sweep's terminal goes back through the same driver `finally` as a finished one
# (the unit tests below close the view twice and after an interrupt), and the plain lines of a
# sweep without a terminal are checked on the end-to-end sweep's output (tests/test_end_to_end.py):
# each would cost one more 17 s sweep here.


# ------------------------------------------------------------ the reporter, with a fake clock and terminal


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def reads(monkeypatch) -> list[float]:
    """Each read of the status the live view makes (the real reads, counted)."""
    made: list[float] = []
    real = _live.study_status

    def counted(study, trials_dir, now=None):
        made.append(len(made))
        return real(study, trials_dir, now)

    monkeypatch.setattr(_live, "study_status", counted)
    return made


def running_study() -> optuna.Study:
    study = optuna.create_study(study_name="live", direction="maximize")
    study.set_user_attr("n_trials", 3)
    study.set_user_attr("monitor", "val_accuracy")
    study.ask()
    return study


def live_progress(study: optuna.Study, tmp_path: Path, clock: FakeClock) -> LiveProgress:
    return LiveProgress(study, tmp_path / "trials", 3, "val_accuracy", "max", stream=FakeTerminal(), clock=clock)


def test_the_throttle_lets_one_action_through_per_interval():
    clock = FakeClock()
    throttle = Throttle(1.0, clock)
    passed = []
    for seconds in (0.0, 0.5, 0.99, 1.0, 1.5, 2.2, 2.3):
        clock.seconds = seconds
        passed.append(throttle.due())
    assert passed == [True, False, False, True, False, True, False]
    clock.seconds = 3.0
    throttle.mark()
    clock.seconds = 3.9
    assert not throttle.due()


def test_ticks_read_the_storage_at_most_once_a_second(tmp_path, reads):
    clock = FakeClock()
    progress = live_progress(running_study(), tmp_path, clock)
    for seconds in (0.0, 0.5, 0.9):  # the driver polls every 0.5 s, or sooner when a trial ends
        clock.seconds = seconds
        progress.tick()
    assert len(reads) == 1
    clock.seconds = 1.0
    progress.tick()
    assert len(reads) == 2
    output = progress.stream.getvalue()
    assert HEADER.search(CSI.sub("", output))
    assert "\x1b[?25l" in output  # drawing: the cursor is hidden
    progress.close()


def test_a_finished_trials_line_prints_unchanged_above_the_table_and_stays_after_close(tmp_path, reads):
    clock = FakeClock()
    study = running_study()
    live = live_progress(study, tmp_path, clock)
    plain = Progress(3, "val_accuracy", "max", stream=io.StringIO())
    outcome = TrialOutcome(0, "COMPLETE", 0.875, "max_epochs", None)
    trials = [create_trial(state=TrialState.COMPLETE, value=0.875)]
    live.tick()
    live.update(outcome, trials)
    plain.update(outcome, trials)
    line = plain.stream.getvalue().rstrip("\n")
    assert "[1/3: 1 complete" in line  # rich markup would have eaten the brackets
    assert line in re.split(r"[\r\n]", CSI.sub("", live.stream.getvalue()))
    assert len(reads) == 2  # the table was redrawn at once, without the trial that ended
    live.close()
    screen = Screen().feed(live.stream.getvalue())
    assert screen.lines() == [line]
    assert screen.cursor_shown


def test_after_close_nothing_draws_and_lines_print_plain(tmp_path, reads):
    clock = FakeClock()
    live = live_progress(running_study(), tmp_path, clock)
    live.tick()
    live.close()
    live.close()  # the driver's and the backend's paths may both close
    drawn = live.stream.getvalue()
    clock.seconds = 5.0
    live.tick()
    live.update(TrialOutcome(1, "PRUNED", None, "pruned", None), [])
    assert len(reads) == 1
    assert (
        live.stream.getvalue()[len(drawn) :] == "trial    1 PRUNED   (pruned)  [0/3: 0 complete, 0 pruned, 0 failed]\n"
    )


def test_before_the_first_tick_the_lines_print_exactly_as_a_plain_run_prints_them(tmp_path, reads):
    live = live_progress(running_study(), tmp_path, FakeClock())
    plain = Progress(3, "val_accuracy", "max", stream=io.StringIO())
    for progress in (live, plain):
        progress.start("1 worker process(es)", "runs/live/journal.log", [])
        progress.update(TrialOutcome(0, "FAIL", None, "error", "Traceback\nValueError: bad"), [])
    assert live.stream.getvalue() == plain.stream.getvalue()
    assert reads == []


def test_a_status_that_cannot_be_read_shows_in_the_table_and_the_sweep_goes_on(tmp_path, monkeypatch):
    def broken(study, trials_dir, now=None):
        raise RuntimeError("the storage went away")

    monkeypatch.setattr(_live, "study_status", broken)
    progress = live_progress(running_study(), tmp_path, FakeClock())
    progress.tick()
    progress.close()
    assert "live view: cannot read the status (RuntimeError: the storage went away)" in progress.stream.getvalue()


def test_the_live_view_is_for_terminals_that_can_redraw_only(tmp_path, monkeypatch):
    study = running_study()
    monkeypatch.setenv("TERM", "xterm-256color")
    assert type(progress_for(study, tmp_path, 3, "val_loss", "min", stream=io.StringIO())) is Progress
    assert type(progress_for(study, tmp_path, 3, "val_loss", "min", stream=FakeTerminal())) is LiveProgress
    monkeypatch.setenv("FORCE_COLOR", "1")  # as CI often sets: still a pipe, still plain
    assert type(progress_for(study, tmp_path, 3, "val_loss", "min", stream=io.StringIO())) is Progress
    monkeypatch.setenv("TERM", "dumb")
    assert type(progress_for(study, tmp_path, 3, "val_loss", "min", stream=FakeTerminal())) is Progress


# ------------------------------------------------------------ the Dask backend's hooks


class Recorder(Progress):
    def __init__(self) -> None:
        super().__init__(3, "val_loss", "min", stream=io.StringIO())
        self.calls: list[str] = []

    def update(self, outcome: TrialOutcome, trials: list[optuna.trial.FrozenTrial]) -> None:
        self.calls.append(f"update {outcome.number}")

    def tick(self) -> None:
        self.calls.append("tick")

    def close(self) -> None:
        self.calls.append("close")


def test_the_dask_loop_ticks_the_live_view_on_each_poll_of_the_storage():
    study = optuna.create_study()
    recorder = Recorder()
    new_trials = _NewTrials(study, recorder)
    new_trials.report()
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=0.5, user_attrs={"stop_reason": "max_epochs"}))
    new_trials.report()
    assert recorder.calls == ["tick", "update 0", "tick"]


def test_the_dask_backend_closes_the_live_view_when_interrupted():
    class InterruptedCluster:
        def sweep(self, *args: object) -> None:
            raise KeyboardInterrupt

    backend = object.__new__(dask_backend.DaskBackend)  # no scheduler to connect to
    backend.cluster = InterruptedCluster()
    recorder = Recorder()
    plan = dask_backend.SweepPlan(3, policy=None)
    with pytest.raises(KeyboardInterrupt):
        backend.sweep(optuna.create_study(), config=None, plan=plan, progress=recorder)
    assert recorder.calls == ["close"]
