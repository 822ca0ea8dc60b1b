"""Temporary checkpoint files: named beside their target, and swept up after a killed save.

Keras-free, so the driver can sweep them without importing TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def temp_path_for(path: Path) -> Path:
    """Where a save to ``path`` writes first; the same folder, so the rename is atomic."""
    return path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{path.name}")


def remove_stale_temp_files(folder: Path) -> int:
    """Deletes temporary checkpoint files a killed save left behind.

    A temp file names the process that writes it; one whose process is still
    alive (another trial saving into a shared folder) is left alone.

    Args:
        folder: A checkpoint folder.

    Returns:
        How many files were removed.
    """
    if not folder.is_dir():
        return 0
    removed = 0
    for temp in folder.glob(f"{TEMP_PREFIX}*"):
        if _writer_is_alive(temp):
            continue
        temp.unlink(missing_ok=True)
        removed += 1
    return removed


def remove_stale_checkpoint_files(trials_dir: Path) -> int:
    """Sweeps every trial's checkpoint folder under ``trials_dir``; how many files went."""
    return sum(remove_stale_temp_files(folder) for folder in trials_dir.glob("*/checkpoints"))


def _writer_is_alive(temp: Path) -> bool:
    pid_text = temp.name[len(TEMP_PREFIX) :].split("-", 1)[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False  # this process is not saving while it sweeps
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
