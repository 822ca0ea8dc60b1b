"""Shared fixtures: quiet TensorFlow, and tiny study files written on the fly."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent

DIGITS_DATA = '''
import keras
import optuna
from sklearn.datasets import load_digits

import sweeper as sw


def load_data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build_model(trial):
    lr = trial.suggest_categorical("lr", [1e-2, 1e-6])
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


@pytest.fixture
def write_study(tmp_path: Path):
    """Writes a study file from a body appended to the digits data and model."""

    def write(body: str, name: str = "study.py", prelude: str = DIGITS_DATA) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(prelude) + "\n" + textwrap.dedent(body))
        return path

    return write
