"""The one fit every contender in the parallel benchmark runs: a digits MLP with the four callbacks."""

from __future__ import annotations

from pathlib import Path

import keras
from sklearn.datasets import load_digits

EPOCHS = 15
BATCH_SIZE = 64


def load_data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build_model(trial=None):
    # Fixed hyperparameters: every fit costs the same, so throughput compares engines, not luck.
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_callbacks(trial_dir: Path, epochs: int) -> list[keras.callbacks.Callback]:
    """The same four callbacks sweeper builds, for the bare-Keras contenders."""
    return [
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=epochs),
        keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=3),
        keras.callbacks.ModelCheckpoint(str(trial_dir / "best.keras"), monitor="val_accuracy", save_best_only=True),
        keras.callbacks.TensorBoard(str(trial_dir / "tensorboard")),
    ]


def fit_once(data, trial_dir: Path, epochs: int, clear_session: bool = True) -> float:
    (x, y), validation = data
    model = build_model()
    history = model.fit(
        x,
        y,
        validation_data=validation,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        callbacks=keras_callbacks(trial_dir, epochs),
        verbose=0,
    )
    if clear_session:  # not from threads: it resets Keras state the other threads' models use
        keras.backend.clear_session()
    return max(history.history["val_accuracy"])
