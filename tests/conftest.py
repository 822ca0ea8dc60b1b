"""Shared fixtures: quiet TensorFlow, and tiny study files written on the fly."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sweeper.cli import main

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent

DIGITS_DATA = """
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
"""


@pytest.fixture
def write_study(tmp_path: Path):
    """Writes a study file from a body appended to the digits data and model."""

    def write(body: str, name: str = "study.py", prelude: str = DIGITS_DATA) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(prelude) + "\n" + textwrap.dedent(body))
        return path

    return write


# Grid over a good and a hopeless learning rate: once two trials have finished, the
# median pruner reliably cuts the hopeless ones, while the good ones complete.
STUDY = """
study = sw.Study(
    name="e2e",
    data=load_data,
    model=build_model,
    monitor="val_accuracy",
    epochs=6,
    batch_size=128,
    n_trials=8,
    sampler=optuna.samplers.GridSampler({"lr": [1e-2, 1e-6], "EarlyStopping.patience": [2, 3]}, seed=0),
    pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    seed=0,
    keep_checkpoints=2,
    callbacks=[
        sw.EarlyStopping(patience=sw.choice(2, 3)),
        sw.ReduceLROnPlateau(factor=0.5, patience=1),
        sw.ModelCheckpoint(),
        sw.TensorBoard(),
    ],
)
"""


# Every import finder is wrapped so that none finds the package: importing it fails, and
# importlib.util.find_spec returns None, both exactly as where it was never installed
# (PyTorch asks find_spec whether TensorFlow is there and expects None, not an error).
HIDE_PACKAGE = """
import sys

HIDDEN = {package!r}


class _Without:
    def __init__(self, finder):
        self._finder = finder

    def find_spec(self, name, path=None, target=None):
        if name == HIDDEN or name.startswith(HIDDEN + "."):
            return None
        return self._finder.find_spec(name, path, target)

    def invalidate_caches(self):
        getattr(self._finder, "invalidate_caches", lambda: None)()

    def __getattr__(self, name):  # find_distributions and the rest, as the finder has them
        return getattr(self._finder, name)


sys.meta_path[:] = [_Without(finder) for finder in sys.meta_path]
"""


def env_without(package: str, folder: Path) -> dict[str, str]:
    """An environment whose Python cannot import ``package``, as on a machine that never installed it.

    It writes a ``sitecustomize.py`` into ``folder`` that hides the package from every import.
    """
    (folder / "sitecustomize.py").write_text(HIDE_PACKAGE.format(package=package))
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder), "HOME": str(folder)}


def sweep(*args: str, cwd: Path) -> object:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture(scope="session")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    study_file = root / "study.py"
    study_file.write_text(textwrap.dedent(DIGITS_DATA) + textwrap.dedent(STUDY))
    result = sweep("run", str(study_file), "--jobs", "2", cwd=root)
    trials = pd.read_csv(root / "reports" / "e2e" / "trials.csv")
    return root, study_file, result, trials
