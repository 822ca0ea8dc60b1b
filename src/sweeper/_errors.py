"""Errors that sweeper reports to users as one clear line."""

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
        parts = [f"{source}: {message}" if source else message]
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__(" ".join(parts))

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


class NoSuccessfulTrialError(SweeperError):
    """A sweep ended without a single COMPLETE or PRUNED trial."""


def _rebuild(cls: type[StudyFileError], detail: str, source: str | None, fix: str | None) -> StudyFileError:
    return cls(detail, source=source, fix=fix)
