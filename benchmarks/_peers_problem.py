"""The one search problem every contender of benchmarks/peers.py solves.

A small Conv2D net on sklearn's 8x8 digits, tuning `filters`, `units`, `lr`,
EarlyStopping `patience` and ReduceLROnPlateau `factor`. Every contender builds its
model and its two callbacks from the functions and constants here, so the model
family, the search space and the fixed callback settings are the same for all.

Keras is imported inside the functions: the benchmark's driver imports this module
for the constants only, and never pays for TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Training images per problem. "digits" saturates near 0.99 validation accuracy;
# "digits-300" trains on 300 images only, which leaves room to separate contenders.
# Each problem validates on every image it does not train on: 497 of the 1,797 for
# "digits", 1,497 for "digits-300". With 497 images one image is 0.2% and one epoch's
# val_accuracy near 0.97 has a standard error of 0.7%, coarser than the gaps between
# the contenders' bests on digits-300, so those were decided by one lucky epoch.
PROBLEMS: dict[str, int] = {"digits": 1300, "digits-300": 300}
N_IMAGES = 1797  # sklearn's digits
SPLIT_SEED = 0  # one fixed shuffle, so the small problem sees every class

MONITOR = "val_accuracy"
BATCH_SIZE = 64

# The search space, identical for every contender.
FILTERS = (8, 64)  # int, log scale
UNITS = (16, 256)  # int, log scale
LR = (1e-4, 3e-2)  # float, log scale
PATIENCES = (3, 5, 8)  # EarlyStopping.patience, for at most 15 epochs a trial
FACTORS = (0.1, 0.3, 0.5)  # ReduceLROnPlateau.factor

# Fixed callback settings, identical for every contender.
EARLY_STOPPING_MIN_DELTA = 1e-3
LR_PATIENCE = 2
MIN_LR = 1e-5


def load_data(problem: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The problem's ((x_train, y_train), (x_val, y_val)), images shaped 8x8x1.

    Args:
        problem: A key of ``PROBLEMS``.

    Returns:
        The training and validation arrays.
    """
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    x = (x[order] / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    y = y[order]
    n_train = PROBLEMS[problem]
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def build_model(filters: int, units: int, lr: float) -> Any:
    """The compiled Conv2D classifier every contender trains.

    Args:
        filters: Conv2D filters.
        units: Hidden Dense units.
        lr: Adam's learning rate.

    Returns:
        A compiled ``keras.Model``.
    """
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_callbacks(patience: int, factor: float) -> list[Any]:
    """EarlyStopping and ReduceLROnPlateau as the peers write them by hand.

    These are the same settings sweeper's study (benchmarks/peers_study.py) declares.

    Args:
        patience: EarlyStopping patience.
        factor: ReduceLROnPlateau factor.

    Returns:
        Fresh callbacks for one fit.
    """
    import keras

    return [
        keras.callbacks.EarlyStopping(
            monitor=MONITOR, patience=patience, min_delta=EARLY_STOPPING_MIN_DELTA, restore_best_weights=True
        ),
        keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, factor=factor, patience=LR_PATIENCE, min_lr=MIN_LR),
    ]
