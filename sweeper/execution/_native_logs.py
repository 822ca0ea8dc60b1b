"""Keeping the frameworks' C++ log chatter off the console, as ``TF_CPP_MIN_LOG_LEVEL`` once did.

TensorFlow 2.21 (and XLA, under JAX) logs through Abseil before anything initialises
Abseil's logging, so every line reaches stderr whatever ``TF_CPP_MIN_LOG_LEVEL`` says,
headed by "WARNING: All log messages before absl::InitializeLog() is called are
written to STDERR". A worker therefore routes its stderr through a filter that drops
Abseil-format lines below the level ``TF_CPP_MIN_LOG_LEVEL`` asks for (2, warnings and
info, unless the user set another) and passes everything else, Python's warnings and
tracebacks included, through unchanged.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# Abseil's prefix: severity letter, MMDD, time, thread id, file:line], e.g.
# "I0000 00:00:1796386249.410994   24932 port.cc:153] oneDNN custom operations are on."
_ABSL_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:[\d.]+ +\d+ [^\]\s]+\] ")
_UNINITIALISED = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
# What Python itself writes to stderr: a warning's "file:line: Category: ...", a traceback.
_PYTHON_LINE = re.compile(rb"^(\S.*:\d+: \w+: |Traceback \(most recent call last\)|  File \")")
_installed = False


def native_log_level(environ: dict[str, str] | None = None) -> int:
    """The lowest severity shown: ``TF_CPP_MIN_LOG_LEVEL`` (0 info, 1 warning, 2 error, 3 fatal), 2 if unset."""
    value = (os.environ if environ is None else environ).get("TF_CPP_MIN_LOG_LEVEL", "2")
    return int(value) if value.strip().isdigit() else 2


def is_chatter(line: bytes, level: int) -> bool:
    """Whether a stderr line is an Abseil log line below ``level``.

    Args:
        line: One line, with or without its newline.
        level: The lowest severity to keep (``native_log_level``).

    Returns:
        ``True`` for a line to drop.
    """
    if line.rstrip(b"\r\n") == _UNINITIALISED:
        return level > _SEVERITY[b"W"]
    match = _ABSL_LINE.match(line)
    return match is not None and _SEVERITY[match.group(1)] < level


def without_chatter(chunk: bytes, level: int) -> bytes:
    """``chunk``'s lines less the chatter, a dropped message's continuation lines included.

    Abseil writes a message of several lines in one write, so within one chunk the lines
    after a dropped line go with it, up to the next Abseil line or a line Python wrote
    (a warning or a traceback).

    Args:
        chunk: Whole lines, as read from the pipe.
        level: The lowest severity to keep.

    Returns:
        The lines to show.
    """
    kept: list[bytes] = []
    dropping = False
    for line in chunk.splitlines(keepends=True):
        starts_message = line.rstrip(b"\r\n") == _UNINITIALISED or _ABSL_LINE.match(line) is not None
        if starts_message:
            dropping = is_chatter(line, level)
        elif _PYTHON_LINE.match(line):
            dropping = False
        if not dropping:
            kept.append(line)
    return b"".join(kept)


def filter_native_logs() -> None:
    """Routes this process's stderr (file descriptor 2) through :func:`is_chatter`, once per process.

    Call it before the framework is imported. Python's own ``sys.stderr`` writes to the
    same descriptor, so its lines pass through the filter too, unchanged.
    """
    global _installed
    level = native_log_level()
    if _installed or level == 0:
        return
    read_end, write_end = os.pipe()
    console = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(target=_forward, args=(read_end, console, level), name="log-filter", daemon=True)
    forwarder.start()
    atexit.register(_drain, forwarder, console)
    _installed = True


def _drain(forwarder: threading.Thread, console: int) -> None:
    """At exit, gives fd 2 back, which closes the pipe, and lets the last lines through."""
    sys.stderr.flush()
    os.dup2(console, 2)
    forwarder.join(timeout=2)


def _forward(read_end: int, console: int, level: int) -> None:
    """Copies what reaches the pipe to the console, less the chatter; gives fd 2 back if it ever fails."""
    pending = b""
    try:
        while chunk := os.read(read_end, 65536):
            whole, _, pending = (pending + chunk).rpartition(b"\n")
            if whole:
                os.write(console, without_chatter(whole + b"\n", level))
        if pending:
            os.write(console, without_chatter(pending, level))
    except Exception:
        os.dup2(console, 2)  # never leave writers blocked on a pipe nobody reads
