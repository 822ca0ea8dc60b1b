"""Reports: every trial's storage record and TensorBoard logs, in pandas and on one HTML page."""

from sweeper.logs import read_tensorboard
from sweeper.reports._build import load_report
from sweeper.reports._report import Report

__all__ = ["Report", "load_report", "read_tensorboard"]
