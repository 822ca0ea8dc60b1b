"""The live view of ``sweeper run``: the running trials' table under the finished trials' lines.

On a terminal only; anywhere else (a CI log, ``nohup``, a pipe) the sweep prints the
plain lines of ``execution/_progress.py`` and nothing more. The table is
``sweeper status``'s own (``execution/_status_view.py``), read from the storage and the
trials' progress files at most once a second. It is drawn from the sweep loop's own
thread, on its ``tick``: no drawing thread races the loop's Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import optuna
from optuna.trial import FrozenTrial
from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from sweeper.execution._progress import Progress
from sweeper.execution._status import study_status
from sweeper.execution._status_view import status_renderable
from sweeper.trial._outcome import TrialOutcome

# The shortest time between two reads of the storage for the table.
REFRESH_S = 1.0
# Terminals that cannot move the cursor: the live view would print every frame below the last.
_DUMB_TERMINALS = frozenset({"dumb", "unknown"})


def progress_for(
    study: optuna.Study,
    trials_dir: Path,
    n_trials: int,
    monitor: str,
    mode: str,
    epoch_budget: int | None = None,
    stream: TextIO | None = None,
) -> Progress:
    """The sweep's reporter: the live view on a terminal, the plain lines anywhere else.

    Args:
        study: The Optuna study being swept.
        trials_dir: Its trials' folder, ``runs/<study>/trials``.
        n_trials: How many results the sweep is after.
        monitor: The monitored quantity's name.
        mode: ``"min"`` or ``"max"``.
        epoch_budget: The sweep's epoch budget, if any. Defaults to ``None``.
        stream: Where to print. Defaults to ``sys.stderr``.

    Returns:
        A ``LiveProgress`` when ``stream`` is a terminal that can redraw, else a ``Progress``.
    """
    stream = stream or sys.stderr
    if is_live_terminal(stream):
        return LiveProgress(study, trials_dir, n_trials, monitor, mode, epoch_budget, stream)
    return Progress(n_trials, monitor, mode, epoch_budget, stream)


def is_live_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal that can redraw a table: a TTY, and not ``TERM=dumb``.

    Args:
        stream: The stream the progress goes to.

    Returns:
        Whether the live view may draw on it.
    """
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a stream without a file, or a closed one
        return False
    # Decided here, not by rich: rich also draws on a pipe when FORCE_COLOR is set, as CI often does.
    return tty and os.environ.get("TERM", "") not in _DUMB_TERMINALS


class Throttle:
    """Lets an action through at most once per ``interval_s``.

    Args:
        interval_s: The shortest time between two actions.
        clock: Monotonic seconds. Defaults to ``time.monotonic``.
    """

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.last: float | None = None

    def due(self) -> bool:
        """Whether the action may run now; when it may, it counts as run now.

        Returns:
            ``True`` on the first call, and once ``interval_s`` has passed since the last action.
        """
        now = self.clock()
        if self.last is not None and now - self.last < self.interval_s:
            return False
        self.last = now
        return True

    def mark(self) -> None:
        """Counts the action as run now, by another path."""
        self.last = self.clock()


class LiveProgress(Progress):
    """The progress lines, with a live table of the running trials under them, for a terminal.

    The table appears at the first ``tick`` and goes at ``close``. It is transient: once
    it goes, the terminal holds exactly the lines a plain run prints, since its last frame
    would only show trials the sweep has just ended. Whoever ticks must close.

    Args:
        study: The Optuna study being swept.
        trials_dir: Its trials' folder, ``runs/<study>/trials``.
        n_trials: How many results the sweep is after.
        monitor: The monitored quantity's name.
        mode: ``"min"`` or ``"max"``.
        epoch_budget: The sweep's epoch budget, if any. Defaults to ``None``.
        stream: The terminal. Defaults to ``sys.stderr``.
        clock: Monotonic seconds, for the refresh rate. Defaults to ``time.monotonic``.
    """

    def __init__(
        self,
        study: optuna.Study,
        trials_dir: Path,
        n_trials: int,
        monitor: str,
        mode: str,
        epoch_budget: int | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(n_trials, monitor, mode, epoch_budget, stream)
        self.study = study
        self.trials_dir = trials_dir
        self.throttle = Throttle(REFRESH_S, clock)
        # No markup nor highlighting: a line's "[4/6: ...]" is text, printed as a plain run prints it.
        self.console = Console(file=self.stream, force_terminal=True, markup=False, highlight=False, emoji=False)
        self.live: Live | None = None
        self.closed = False

    def tick(self) -> None:
        """Redraws the table from the storage, at most once per ``REFRESH_S``; the first call shows it."""
        if self.closed or not self.throttle.due():
            return
        if self.live is None:
            # stdout is left alone: it may be a pipe while stderr is the terminal.
            self.live = Live(console=self.console, auto_refresh=False, transient=True, redirect_stdout=False)
            self.live.start()
        self.live.update(self._frame(), refresh=True)

    def update(self, outcome: TrialOutcome, trials: list[FrozenTrial]) -> None:
        """Prints a finished trial's line above the table, and redraws the table without it.

        Args:
            outcome: How the trial ended.
            trials: The study's trials, read after it ended.
        """
        if self.live is None:
            super().update(outcome, trials)
            return
        with self.console:  # one write to the terminal: the line, under it the table without the trial
            self.throttle.mark()
            self.live.update(self._frame(), refresh=True)
            super().update(outcome, trials)

    def close(self) -> None:
        """Takes the table away for good and shows the cursor again; the lines stay, and later ones print plain."""
        self.closed = True
        live, self.live = self.live, None
        if live is not None:
            live.stop()

    def _frame(self) -> RenderableType:
        try:
            return status_renderable(study_status(self.study, self.trials_dir))
        except Exception as error:  # the view is an aid: it must never end a sweep that may run for days
            return Text(f"live view: cannot read the status ({type(error).__name__}: {error})", style="yellow")

    def _print(self, line: str) -> None:
        if self.live is None:
            super()._print(line)
            return
        # Through the live console, so the line lands above the table; soft_wrap keeps its text
        # whole (the terminal wraps it, if at all), as in a plain run.
        self.console.print(line, soft_wrap=True)
