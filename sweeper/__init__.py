"""sweeper: hyperparameter sweeps for Keras on Optuna, in parallel worker processes.

Importing sweeper does not import TensorFlow; the study file and the workers do.
The names below are the whole public API; every other module is private.
"""

from sweeper._errors import (
    CorruptEventFileWarning,
    MonitorNotFoundError,
    StudyFileError,
    SweepAborted,
    SweeperDeprecationWarning,
    SweeperError,
    SweepTerminated,
)
from sweeper.api import (
    SweepResult,
    SweepStatus,
    WrittenReport,
    best,
    confirm,
    dashboard,
    list_studies,
    report,
    run,
    status,
    tensorboard,
    worker,
)
from sweeper.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, TensorBoard
from sweeper.reports import EarlyStoppingReplay, Report, load_report, read_tensorboard, replay_early_stopping
from sweeper.study import Study, choice, float_range, int_range

__version__ = "0.1.0"

__all__ = [
    "CorruptEventFileWarning",
    "EarlyStopping",
    "EarlyStoppingReplay",
    "ModelCheckpoint",
    "MonitorNotFoundError",
    "ReduceLROnPlateau",
    "Report",
    "Study",
    "StudyFileError",
    "SweepAborted",
    "SweepResult",
    "SweepStatus",
    "SweepTerminated",
    "SweeperDeprecationWarning",
    "SweeperError",
    "TensorBoard",
    "WrittenReport",
    "best",
    "confirm",
    "dashboard",
    "choice",
    "float_range",
    "int_range",
    "list_studies",
    "load_report",
    "read_tensorboard",
    "replay_early_stopping",
    "report",
    "run",
    "status",
    "tensorboard",
    "worker",
]
