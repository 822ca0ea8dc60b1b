"""Reports: every trial's storage record and TensorBoard logs, in pandas."""

from sweeper.reports._report import Report, load_report
from sweeper.reports._tensorboard import read_tensorboard

__all__ = ["Report", "load_report", "read_tensorboard"]
