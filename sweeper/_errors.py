"""The errors and warnings sweeper shows users: the bottom layer, imported by every other."""

from __future__ import annotations


class SweeperError(Exception):
    """Base class of sweeper's own errors."""


class StudyFileError(SweeperError):
    """A study file, or a CLI option, is wrong in a way the user must fix.

    The CLI prints the message as one line and exits with code 2, before anything is
    written to disk.

    Args:
        message: What is wrong, naming the field.
        source: The file (or option) the problem is in. Defaults to ``None``.
        fix: How to fix it. Defaults to ``None``.
    """

    def __init__(self, message: str, *, source: str | None = None, fix: str | None = None) -> None:
        self.source = source
        self.fix = fix
        self.detail = message
        text = f"{source}: {message}" if source else message
        super().__init__(f"{_as_sentence(text)} Fix: {fix}" if fix else text)

    def __reduce__(self) -> tuple:
        # Keeps source and fix when a worker process sends the error back.
        return (_rebuild, (type(self), self.detail, self.source, self.fix))

    def with_source(self, source: str) -> StudyFileError:
        """Returns the same error, attributed to ``source`` when it has no source yet."""
        if self.source is not None:
            return self
        return type(self)(self.detail, source=source, fix=self.fix)


class MonitorNotFoundError(StudyFileError):
    """The monitored quantity is not among the metrics the model logs."""


class SweepAborted(SweeperError):
    """Every trial of the sweep so far failed in user code: the study cannot work as written."""


class DeviceBroken(SweeperError):
    """This process's GPU context broke in a trial: it must run no further trial.

    The trial is already told as FAIL. ``sweeper worker`` exits so that its supervisor
    starts a fresh process; a Dask worker's loop returns, and the driver restarts that worker.

    Args:
        trial_number: The trial that broke it.
        error: The trial's one-line error.
    """

    def __init__(self, trial_number: int, error: str) -> None:
        super().__init__(f"trial {trial_number}: {error} Restart this worker to go on.")
        self.trial_number = trial_number
        self.error = error

    def __reduce__(self) -> tuple:
        return (type(self), (self.trial_number, self.error))


class SweepTerminated(KeyboardInterrupt):
    """A sweep stopped by SIGTERM; handled exactly like Ctrl-C, with its own exit code.

    Args:
        signal_number: The signal that stopped the sweep.
    """

    def __init__(self, signal_number: int) -> None:
        import signal

        super().__init__(f"received {signal.Signals(signal_number).name}")
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        """``128 + signal number``, as a shell reports a process killed by it."""
        return 128 + self.signal_number


class SweeperDeprecationWarning(UserWarning):
    """A classic Keras parameter that Keras 3 dropped or renamed."""


class CorruptEventFileWarning(RuntimeWarning):
    """An event file holds a corrupt record; the records before it were kept."""


def _as_sentence(text: str) -> str:
    """``text`` ending in a full stop, so that "Fix:" starts a sentence of its own."""
    return text if text.rstrip().endswith((".", "!", "?")) else f"{text.rstrip()}."


def _rebuild(cls: type[StudyFileError], detail: str, source: str | None, fix: str | None) -> StudyFileError:
    return cls(detail, source=source, fix=fix)
