"""Event files on disk: the runs under a log root, their files' bytes, and the warning for a damaged one."""

from __future__ import annotations

import os
import warnings

from sweeper._errors import CorruptEventFileWarning


def check_root(root: str | os.PathLike[str]) -> str:
    """``root`` as a str, once it is known to be a directory.

    Args:
        root: The TensorBoard log directory.

    Returns:
        ``os.fspath(root)``.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
    """
    root = os.fspath(root)
    if not os.path.exists(root):
        raise FileNotFoundError(f"TensorBoard log directory not found: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"TensorBoard log root is not a directory: {root!r}")
    return root


def find_runs(root: str) -> list[tuple[str, list[str]]]:
    """Each directory under ``root`` that holds event files, in path order.

    Args:
        root: The directory to search recursively.

    Returns:
        ``(run, paths)`` pairs: the directory relative to ``root`` (POSIX style,
        ``"."`` for ``root`` itself) and its ``*tfevents*`` files, sorted by name.
    """
    runs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        names = sorted(name for name in filenames if "tfevents" in name)
        if names:
            run = os.path.relpath(dirpath, root).replace(os.sep, "/")
            runs.append((run, [os.path.join(dirpath, name) for name in names]))
    return sorted(runs)


def file_size(path: str) -> int:
    """The size of ``path`` in bytes; 0 if it vanished (`read_event_file` reports that)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def read_event_file(path: str) -> bytes:
    """The bytes of ``path``; empty, with a `CorruptEventFileWarning`, if it cannot be read."""
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        # A sweep may delete a trial's logs while we read: lose that file, not the report.
        warnings.warn(f"cannot read event file {path}: {error}", CorruptEventFileWarning, stacklevel=2)
        return b""


def warn_corrupt(path: str, offset: int, kept: int, what: str) -> None:
    """Warns that ``path`` holds a corrupt ``what`` at byte ``offset``, after ``kept`` good records."""
    warnings.warn(
        f"corrupt {what} at byte {offset} of {path}; keeping the {kept} record(s) before it",
        CorruptEventFileWarning,
        stacklevel=2,
    )
