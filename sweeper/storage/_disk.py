"""Disk space: what a runs folder's disk has free, and what a trial's files take."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Below this much free space on the runs folder's disk, no trial starts: a checkpoint or
# an event file cut short by a full disk is worse than a sweep that stops and says why.
DEFAULT_MIN_FREE_GB = 1.0


def low_disk_message(runs_dir: str | os.PathLike[str], min_free_gb: float | None) -> str | None:
    """Why no trial may start, when the runs folder's disk has less than ``min_free_gb`` free.

    Args:
        runs_dir: The runs folder (created if missing, to find its disk).
        min_free_gb: The threshold in GB; ``None`` or ``0`` never stops a sweep.

    Returns:
        One line naming the folder, the free space and the fix; ``None`` when there is room.
    """
    if not min_free_gb:
        return None
    folder = Path(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(folder).free / 1e9
    if free_gb >= min_free_gb:
        return None
    return (
        f"the disk of the runs folder {str(folder)!r} has {free_gb:.2f} GB free, under the {min_free_gb:g} GB "
        "a trial needs to start: no further trial starts, and every finished trial is kept. "
        "Free some space (or lower --keep-checkpoints, or --min-free-gb) and run the same command again to resume."
    )


def tree_bytes(path: str | os.PathLike[str] | None) -> int:
    """The bytes the files under ``path`` take (a file's own size for a file); ``0`` if it is gone."""
    if not path:
        return 0
    root = Path(path)
    if root.is_file():
        return root.stat().st_size
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                continue
    return total
