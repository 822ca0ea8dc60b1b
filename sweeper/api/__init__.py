"""The public API: one function per CLI command (run, worker, report, list_studies, best, tensorboard)."""

from sweeper.api._catalog import best
from sweeper.api._report import WrittenReport, report
from sweeper.api._run import SweepResult, run
from sweeper.api._tensorboard import tensorboard
from sweeper.api._worker import worker
from sweeper.backends.local._pool import release_warm_workers
from sweeper.storage._catalog import list_studies

__all__ = [
    "SweepResult",
    "WrittenReport",
    "best",
    "list_studies",
    "release_warm_workers",
    "report",
    "run",
    "tensorboard",
    "worker",
]
