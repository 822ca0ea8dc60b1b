"""Logs: TensorBoard event files read into pandas, without TensorFlow."""

from sweeper.logs._frame import COLUMNS
from sweeper.logs._read import read_tensorboard

__all__ = ["COLUMNS", "read_tensorboard"]
