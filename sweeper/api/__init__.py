"""The public API: one function per CLI command (run, confirm, worker, status, report, ls, best, and the servers)."""

from sweeper.api._catalog import best
from sweeper.api._confirm import confirm
from sweeper.api._dashboard import dashboard
from sweeper.api._report import WrittenReport, report
from sweeper.api._run import SweepResult, run
from sweeper.api._status import SweepStatus, status
from sweeper.api._tensorboard import tensorboard
from sweeper.api._worker import worker
from sweeper.backends.local._pool import release_warm_workers
from sweeper.storage._catalog import list_studies

__all__ = [
    "SweepResult",
    "SweepStatus",
    "WrittenReport",
    "best",
    "confirm",
    "dashboard",
    "list_studies",
    "release_warm_workers",
    "report",
    "run",
    "status",
    "tensorboard",
    "worker",
]
