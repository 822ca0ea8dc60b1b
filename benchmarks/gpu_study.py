"""The study benchmarks/gpu.py sweeps: synthetic 32x32x3 images labelled by a fixed random teacher, a small convnet.

No downloads: the data is made here, the same in every process (seeded). Each trial
records the device its framework saw, for gpu.py to check against sweeper's ``device``.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import optuna

import sweeper as sw

IMAGES = int(os.environ.get("BENCH_IMAGES", "20000"))
EPOCHS = int(os.environ.get("BENCH_EPOCHS", "3"))
TRIALS = int(os.environ.get("BENCH_TRIALS", "8"))
CLASSES = 10


def load_data():
    """Images of noise labelled by a fixed random two-layer teacher on their 4x4-pooled pixels."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((IMAGES, 32, 32, 3), dtype=np.float32)
    pooled = x.reshape(IMAGES, 8, 4, 8, 4, 3).mean(axis=(2, 4)).reshape(IMAGES, -1)
    hidden = np.tanh(pooled @ rng.standard_normal((pooled.shape[1], 64)).astype(np.float32))
    y = np.argmax(hidden @ rng.standard_normal((64, CLASSES)).astype(np.float32), axis=1)
    split = IMAGES * 9 // 10
    return (x[:split], y[:split]), (x[split:], y[split:])


def framework_device() -> str:
    """The device the framework computes on in this process, as ``gpu:<CUDA_VISIBLE_DEVICES>`` or ``cpu``."""
    backend = keras.backend.backend()
    on_gpu = False
    if backend == "jax":
        import jax

        on_gpu = jax.devices()[0].platform == "gpu"
    elif backend == "torch":
        import torch

        on_gpu = torch.cuda.is_available()
    elif backend == "tensorflow":
        import tensorflow as tf

        on_gpu = bool(tf.config.list_physical_devices("GPU"))
    return f"gpu:{os.environ.get('CUDA_VISIBLE_DEVICES', '0')}" if on_gpu else "cpu"


def build_model(trial):
    filters = trial.suggest_categorical("filters", [16, 32])
    lr = trial.suggest_float("lr", 1e-3, 1e-2, log=True)
    trial.set_user_attr("framework_device", framework_device())
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(filters, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(filters * 2, 3, activation="relu", padding="same"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


study = sw.Study(
    name="bench-gpu",
    data=load_data,
    model=build_model,
    monitor="val_accuracy",
    epochs=EPOCHS,
    batch_size=256,
    n_trials=TRIALS,
    sampler=optuna.samplers.RandomSampler(seed=0),
    seed=0,
    callbacks=[sw.ModelCheckpoint(), sw.TensorBoard()],
)
