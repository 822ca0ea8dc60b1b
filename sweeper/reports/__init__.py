"""Reports: every trial's storage record and TensorBoard logs in pandas, an EarlyStopping replay, one HTML page."""

from sweeper.logs import read_tensorboard
from sweeper.reports._build import load_report
from sweeper.reports._replay_tables import EarlyStoppingReplay, replay_early_stopping
from sweeper.reports._report import Report

__all__ = ["EarlyStoppingReplay", "Report", "load_report", "read_tensorboard", "replay_early_stopping"]
