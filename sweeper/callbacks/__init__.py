"""Callback specs a study file declares; each trial builds fresh Keras callbacks from them."""

from sweeper.callbacks._early_stopping import EarlyStopping
from sweeper.callbacks._model_checkpoint import ModelCheckpoint
from sweeper.callbacks._reduce_lr_on_plateau import ReduceLROnPlateau
from sweeper.callbacks._spec import BuildContext, CallbackSpec, TrialPaths
from sweeper.callbacks._tensorboard import TensorBoard

__all__ = [
    "BuildContext",
    "CallbackSpec",
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TrialPaths",
]
