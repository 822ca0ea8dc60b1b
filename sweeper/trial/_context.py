"""The per-process context: a study file and its data, loaded once per worker and reused by its trials."""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from sweeper._errors import StudyFileError
from sweeper.study._data import StudyData, study_data
from sweeper.study._loader import load_study_file, location_in
from sweeper.study._study import Study


@dataclass
class WorkerContext:
    """A study file loaded in a worker, with its data, reused across trials.

    Args:
        key: The study file's path and modification time.
        study: The loaded study.
        data: Its data, checked.
        warnings: Warnings raised while loading the study file, for the driver to show once.
        cache: Per-process objects trials reuse, such as the opened Optuna study.
    """

    key: tuple[str, float]
    study: Study
    data: StudyData
    warnings: tuple[str, ...] = ()
    cache: dict[str, Any] = field(default_factory=dict)


_context: WorkerContext | None = None


def worker_context(study_file: str) -> WorkerContext:
    """The loaded study and data of ``study_file``, loading them on first use.

    A changed study file (by modification time) is loaded again.

    Args:
        study_file: The study file's absolute path.

    Returns:
        The process's context for that file.

    Raises:
        StudyFileError: When the study file or its ``data()`` fails.
    """
    global _context
    path = Path(study_file)
    key = (str(path), path.stat().st_mtime)
    if _context is not None and _context.key == key:
        return _context
    _context = None  # Free the previous study's data before loading the next.
    # Recorded, not printed: the driver shows them once instead of once per worker.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = load_study_file(path)
    _context = WorkerContext(key, study, _load_data(study, path), tuple(str(w.message) for w in caught))
    # TensorFlow, the study and its data live as long as the worker: freezing them
    # keeps every later garbage collection from walking ~400k long-lived objects.
    gc.collect()
    gc.freeze()
    return _context


def _load_data(study: Study, path: Path) -> StudyData:
    try:
        loaded = study.data()
    except Exception as error:
        raise StudyFileError(
            f"data() raised {type(error).__name__}: {error}",
            source=location_in(path, error),
            fix="fix the data function.",
        ) from None
    try:
        return study_data(loaded)
    except StudyFileError as error:
        raise error.with_source(str(path)) from None


def worker_rss_mb() -> float:
    """The worker's RSS in MB, which the pool reads after each trial to recycle workers."""
    return round(psutil.Process().memory_info().rss / 2**20, 1)
