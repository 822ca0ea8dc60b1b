"""The parallel benchmark's study: the same fit as benchmarks/_fits.py, run by sweeper."""

import os

from _fits import BATCH_SIZE, build_model, load_data

import sweeper as sw

EPOCHS = int(os.environ.get("SWEEPER_BENCH_EPOCHS", "15"))

study = sw.Study(
    name=os.environ.get("SWEEPER_BENCH_NAME", "bench"),
    data=load_data,
    model=build_model,
    monitor="val_accuracy",
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    n_trials=24,
    pruner=None,
    callbacks=[
        sw.EarlyStopping(patience=EPOCHS),
        sw.ReduceLROnPlateau(factor=0.5, patience=3),
        sw.ModelCheckpoint(),
        sw.TensorBoard(),
    ],
)
