"""Compare callback settings: EarlyStopping patience x ReduceLROnPlateau factor, 3 seeds per cell.

A fixed model on sklearn's digits; the grid covers every (patience, factor) cell and
`repeats=3` runs each cell with seeds 0, 1 and 2, so every cell is compared on the same
initialisations. Pruning is off: it would cut the very trials being compared.

    sweeper run studies/patience_factor.py --jobs 2
    sweeper report patience_factor      # settings.csv and the patience x factor heat map
"""

import keras
from sklearn.datasets import load_digits

import sweeper as sw


def load_data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build_model(trial):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


study = sw.Study(
    name="patience_factor",
    data=load_data,
    model=build_model,
    monitor="val_loss",
    epochs=40,
    batch_size=64,
    n_trials=18,  # 3 patience x 2 factor cells x 3 repeats
    sampler="grid",
    pruner=None,
    seed=0,
    repeats=3,
    callbacks=[
        sw.EarlyStopping(patience=sw.choice(2, 5, 10), restore_best_weights=True),
        sw.ReduceLROnPlateau(factor=sw.choice(0.2, 0.5), patience=2, min_lr=1e-5),
        sw.ModelCheckpoint(),
        sw.TensorBoard(),
    ],
)
