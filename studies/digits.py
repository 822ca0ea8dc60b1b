"""Quick start: an MLP on sklearn's digits, tuning the model and the callbacks, with median pruning.

sweeper run studies/digits.py --jobs 2
"""

import keras
from sklearn.datasets import load_digits

import sweeper as sw


def load_data():
    """(x_train, y_train), (x_val, y_val); called once per worker process."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build_model(trial):
    """A compiled keras.Model; model hyperparameters come from the optuna trial."""
    units = trial.suggest_int("units", 16, 256, log=True)
    lr = trial.suggest_float("lr", 1e-4, 3e-2, log=True)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


study = sw.Study(
    name="digits",
    data=load_data,
    model=build_model,
    monitor="val_accuracy",  # maximised: Keras's mode="auto" rule
    epochs=40,
    batch_size=64,
    n_trials=30,
    pruner="median",
    seed=0,
    callbacks=[
        sw.EarlyStopping(patience=sw.choice(3, 6, 10), min_delta=1e-3, restore_best_weights=True),
        sw.ReduceLROnPlateau(factor=sw.choice(0.1, 0.3, 0.5), patience=sw.choice(2, 4), min_lr=1e-5),
        sw.ModelCheckpoint(save_best_only=True),
        sw.TensorBoard(),
    ],
)
