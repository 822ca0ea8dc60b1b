"""The study's data, checked once per worker and turned into ``fit`` arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sweeper._errors import StudyFileError

SHAPE_FIX = "return ((x_train, y_train), (x_val, y_val)) or (train_dataset, val_dataset) from data()."


@dataclass(frozen=True)
class StudyData:
    """Training and validation data, as arrays or batched ``tf.data.Dataset``.

    Args:
        train: ``(x, y)`` arrays or a dataset.
        val: ``(x, y)`` arrays, a dataset, or ``None``.
    """

    train: Any
    val: Any

    @property
    def is_dataset(self) -> bool:
        return not isinstance(self.train, tuple)

    def fit_arguments(self, batch_size: int | None) -> dict[str, Any]:
        """Keyword arguments for ``model.fit``."""
        if self.is_dataset:
            # A dataset is shuffled (or not) by its own pipeline; Keras warns on every fit given shuffle=True.
            arguments = {"x": self.train, "shuffle": False}
        else:
            arguments = {"x": self.train[0], "y": self.train[1], "batch_size": batch_size}
        if self.val is not None:
            arguments["validation_data"] = self.val
        return arguments

    def probe_batch(self, size: int = 32) -> tuple[Any, Any]:
        """A small batch to evaluate a model on before any training."""
        source = self.val if self.val is not None else self.train
        if isinstance(source, tuple):
            return source[0][:size], source[1][:size]
        return source.take(1), None


def study_data(loaded: Any) -> StudyData:
    """Checks what ``data()`` returned.

    Args:
        loaded: The return value of the study's ``data()``.

    Returns:
        The data.

    Raises:
        StudyFileError: When it is not a (train, val) pair of ``(x, y)`` pairs or
            datasets, or the lengths of x and y differ.
    """
    if not isinstance(loaded, (tuple, list)) or len(loaded) != 2:
        raise StudyFileError(f"data() returned {_describe(loaded)}, not a (train, val) pair.", fix=SHAPE_FIX)
    train, val = (_part(name, part) for name, part in zip(("train", "val"), loaded, strict=True))
    if train is None:
        raise StudyFileError("data() returned no training data.", fix=SHAPE_FIX)
    if val is not None and isinstance(train, tuple) != isinstance(val, tuple):
        raise StudyFileError("data() mixes arrays and datasets between train and val.", fix=SHAPE_FIX)
    return StudyData(train, val)


def _part(name: str, part: Any) -> Any:
    if part is None or _is_dataset(part):
        return part
    if not isinstance(part, (tuple, list)) or len(part) != 2:
        raise StudyFileError(
            f"data() returned {_describe(part)} as the {name} part, not an (x, y) pair.", fix=SHAPE_FIX
        )
    x, y = part
    if _length(x) != _length(y):
        raise StudyFileError(
            f"data() {name} part has {_length(x)} inputs but {_length(y)} targets.",
            fix="give x and y the same number of samples.",
        )
    if _length(x) == 0:
        raise StudyFileError(f"data() {name} part is empty.", fix=SHAPE_FIX)
    return (x, y)


def _is_dataset(value: Any) -> bool:
    return type(value).__module__.startswith("tensorflow") and hasattr(value, "take")


def _length(value: Any) -> int | None:
    if isinstance(value, dict):
        value = next(iter(value.values()), [])
    if isinstance(value, (list, tuple)) and value and hasattr(value[0], "shape"):
        value = value[0]  # a multi-input model takes a list of arrays
    return len(value) if hasattr(value, "__len__") else None


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"
