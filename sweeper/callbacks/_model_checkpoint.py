"""``sweeper.ModelCheckpoint``: each trial keeps its best model on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweeper.callbacks._spec import (
    BOOLEAN,
    MODE,
    MONITOR,
    NON_NEGATIVE_INT,
    NUMBER_OR_NONE,
    POSITIVE_INT,
    BuildContext,
    CallbackSpec,
    Rule,
    _warn,
    trial_path,
)

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
WEIGHTS_SUFFIX = ".weights.h5"
DEFAULT_FILENAME = "best.keras"


class ModelCheckpoint(CallbackSpec):
    """Saves each trial's model, by default its best one, atomically.

    Takes every classic Keras parameter, each a fixed value or a search space:
    ``filepath``, ``monitor`` (defaults to the study's), ``verbose=0``,
    ``save_best_only``, ``save_weights_only=False``, ``mode="auto"`` and ``period=1``,
    plus the later ``save_freq="epoch"`` and ``initial_value_threshold=None``.

    Unlike Keras, ``save_best_only`` defaults to ``True``: a sweep keeps each trial's
    best model, and the reports point at it.

    - ``filepath`` defaults to ``best.keras`` in the trial's ``checkpoints`` folder; a
      relative path lands there too. It is a template: ``ep{epoch:02d}-{val_loss:.2f}.keras``
      fills in the 1-based epoch and any logged value, ``{trial}`` the trial number.
    - ``period`` (dropped by Keras 3) saves, or checks for a new best, every
      ``period`` epochs.
    - A classic ``.hdf5`` name saves the whole model in the legacy H5 format, which
      ``keras.models.load_model`` reads. With ``save_weights_only=True`` Keras 3
      writes only ``.weights.h5`` files, so ``x.hdf5`` becomes ``x.weights.h5`` with a
      warning.
    - Every save goes to a temporary file that is then renamed, so a crash never
      leaves a half-written checkpoint under the final name.
    """

    keras_name = "ModelCheckpoint"
    defaults = {
        "filepath": None,
        "monitor": None,
        "verbose": 0,
        "save_best_only": True,
        "save_weights_only": False,
        "mode": "auto",
        "period": 1,
        "save_freq": "epoch",
        "initial_value_threshold": None,
    }

    rules = {
        "filepath": Rule(lambda v: v is None or isinstance(v, (str, Path)), "a file name"),
        "monitor": MONITOR,
        "verbose": NON_NEGATIVE_INT,
        "save_best_only": BOOLEAN,
        "save_weights_only": BOOLEAN,
        "mode": MODE,
        "period": POSITIVE_INT,
        "initial_value_threshold": NUMBER_OR_NONE,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        weights_only = self.params.get("save_weights_only", False)
        filepath = self.params.get("filepath")
        if isinstance(filepath, str) and isinstance(weights_only, bool):
            self.params["filepath"] = self._checked_filepath(filepath, weights_only)

    def _check(self, name: str, value: Any) -> None:
        super()._check(name, value)
        if name == "save_freq" and value != "epoch":
            raise self._error(
                f"save_freq={value!r} is not supported: sweeper checkpoints at epoch ends.",
                "use period=N to save every N epochs.",
            )

    def _checked_filepath(self, filepath: str, weights_only: bool) -> str:
        if weights_only:
            if filepath.endswith(WEIGHTS_SUFFIX):
                return filepath
            if filepath.endswith((".h5", ".hdf5")):
                renamed = filepath.rsplit(".", 1)[0] + WEIGHTS_SUFFIX
                _warn(
                    f"ModelCheckpoint(filepath={filepath!r}): Keras 3 saves weights only to '{WEIGHTS_SUFFIX}' files; "
                    f"saving to {renamed!r}."
                )
                return renamed
            raise self._error(
                f"filepath={filepath!r} cannot hold weights only.",
                f"end it in '{WEIGHTS_SUFFIX}', e.g. 'best{WEIGHTS_SUFFIX}'.",
            )
        if filepath.endswith(MODEL_SUFFIXES):
            return filepath
        raise self._error(
            f"filepath={filepath!r} has no model file extension.",
            "end it in '.keras' (or '.h5'/'.hdf5' for the legacy H5 format).",
        )

    def build(self, values: dict[str, Any], context: BuildContext) -> Any:
        from sweeper.callbacks._atomic_checkpoint import AtomicModelCheckpoint

        monitor, mode = self.monitor_and_mode(values, context)
        default_name = "best.weights.h5" if values["save_weights_only"] else DEFAULT_FILENAME
        path = trial_path(str(values["filepath"] or default_name), context.paths, is_file=True)
        return AtomicModelCheckpoint(
            filepath=str(path),
            monitor=monitor,
            mode=mode,
            verbose=values["verbose"],
            save_best_only=values["save_best_only"],
            save_weights_only=values["save_weights_only"],
            period=values["period"],
            initial_value_threshold=values["initial_value_threshold"],
            trial_number=context.paths.number,
        )
