"""sweeper: hyperparameter sweeps for Keras on Optuna, in parallel worker processes.

Importing sweeper does not import TensorFlow; the study file and the workers do.
"""

from sweeper._engine import SweepResult, run
from sweeper._errors import StudyFileError, SweeperError
from sweeper._space import choice, float_range, int_range
from sweeper._study import Study
from sweeper.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, TensorBoard
from sweeper.reports import Report, load_report, read_tensorboard

__version__ = "0.1.0"

__all__ = [
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "Report",
    "Study",
    "StudyFileError",
    "SweepResult",
    "SweeperError",
    "TensorBoard",
    "choice",
    "float_range",
    "int_range",
    "load_report",
    "read_tensorboard",
    "run",
]

