"""Telling a hung trial from a slow one: past its time limit plus a grace period, it reached no batch end.

A trial past its ``trial_timeout`` stops itself at its next batch end
(``callbacks/_trial_timeout.py``). One still running a grace period later reached
none: a data pipeline that deadlocked, a file system that stalled. Only killing its
worker ends it.
"""

from __future__ import annotations

import os
import time
from typing import Any

# Covers a long validation pass or checkpoint save after a trial's last batch.
DEFAULT_GRACE_S = 60.0
# Before a trial's fit starts, its worker may still be importing TensorFlow and loading the
# data (a fresh worker, on a loaded machine); a data() that never returns is caught this late.
STARTUP_S = 120.0


def hung_grace_s() -> float:
    """The grace period: ``SWEEPER_HUNG_GRACE_S`` from the environment, else 60 s."""
    return float(os.environ.get("SWEEPER_HUNG_GRACE_S", DEFAULT_GRACE_S))


def trial_elapsed_s(submitted: float, progress: dict[str, Any] | None, now_wall: float | None = None) -> float:
    """How long a trial has run, as far as the driver can tell, for the hung check.

    Counted from its fit's start (its progress file's ``started``) once it has one; before
    that, from when it was sent, less :data:`STARTUP_S`, so that a fresh worker's import
    and data load do not count against the trial.

    Args:
        submitted: ``time.monotonic()`` when the trial was sent to its worker.
        progress: The trial's progress record, or ``None``.
        now_wall: The wall-clock time now. Defaults to ``time.time()``.

    Returns:
        Seconds.
    """
    started = (progress or {}).get("started")
    if isinstance(started, (int, float)):
        return (time.time() if now_wall is None else now_wall) - started
    return time.monotonic() - submitted - STARTUP_S


def is_hung(elapsed_s: float, limit_s: float | None, grace_s: float) -> bool:
    """Whether a trial that has run ``elapsed_s`` is past its limit plus the grace.

    Args:
        elapsed_s: :func:`trial_elapsed_s`.
        limit_s: The trial time limit; ``None`` never hangs.
        grace_s: The grace period.

    Returns:
        Whether the trial is hung.
    """
    return limit_s is not None and elapsed_s > limit_s + grace_s


def hung_message(limit_s: float, grace_s: float, progress: dict[str, Any] | None, now: float | None = None) -> str:
    """The line a hung trial's error holds: its limit and where it last was.

    Args:
        limit_s: The trial time limit.
        grace_s: The grace period.
        progress: The trial's progress record (``callbacks/_progress_record.py``), or
            ``None`` when it wrote none.
        now: The wall-clock time to date the last sign of life by. Defaults to ``time.time()``.

    Returns:
        The message.
    """
    head = f"hung: no batch ended within the trial timeout of {limit_s:g} s plus {grace_s:g} s of grace"
    if not progress:
        return f"{head}, and it never began an epoch; its worker was killed and replaced"
    where = f"epoch {int(progress.get('epoch', 0)) + 1}"
    batch = progress.get("batch")
    if batch is not None:
        steps = progress.get("steps")
        where += f", batch {int(batch) + 1}" + (f" of {steps}" if steps else "")
    updated = progress.get("updated")
    ago = "" if updated is None else f" {max(0.0, (time.time() if now is None else now) - float(updated)):.0f} s ago"
    return f"{head}; last seen at {where}{ago}; its worker was killed and replaced"
