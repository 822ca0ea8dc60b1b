"""The sweeper contenders' study in benchmarks/peers.py: the shared problem, as a study file.

benchmarks/_peers_run.py sets these environment variables before it calls
`sweeper.run`; the worker processes inherit them when they load this file:

- PEERS_NAME: the study name (one per run, so nothing is resumed);
- PEERS_PROBLEM: a key of `_peers_problem.PROBLEMS`;
- PEERS_PRUNER: `none`, `median`, `hyperband` or `successive_halving`;
- PEERS_EPOCHS, PEERS_TRIALS, PEERS_SEED.
"""

import os

import _peers_problem as problem

import sweeper as sw

PROBLEM = os.environ.get("PEERS_PROBLEM", "digits")


def load_data():
    """The problem's training and validation arrays; called once per worker process."""
    return problem.load_data(PROBLEM)


def build_model(trial):
    """The shared Conv2D net, with its hyperparameters from the Optuna trial."""
    return problem.build_model(
        filters=trial.suggest_int("filters", *problem.FILTERS, log=True),
        units=trial.suggest_int("units", *problem.UNITS, log=True),
        lr=trial.suggest_float("lr", *problem.LR, log=True),
    )


study = sw.Study(
    name=os.environ.get("PEERS_NAME", "peers"),
    data=load_data,
    model=build_model,
    monitor=problem.MONITOR,
    epochs=int(os.environ.get("PEERS_EPOCHS", "20")),
    batch_size=problem.BATCH_SIZE,
    n_trials=int(os.environ.get("PEERS_TRIALS", "24")),
    pruner=os.environ.get("PEERS_PRUNER", "median"),
    seed=int(os.environ.get("PEERS_SEED", "0")),
    callbacks=[
        sw.EarlyStopping(
            patience=sw.choice(*problem.PATIENCES),
            min_delta=problem.EARLY_STOPPING_MIN_DELTA,
            restore_best_weights=True,
        ),
        sw.ReduceLROnPlateau(factor=sw.choice(*problem.FACTORS), patience=problem.LR_PATIENCE, min_lr=problem.MIN_LR),
        # As a sweeper user runs it (studies/digits.py): best-only checkpoints and TensorBoard
        # logs, which the reports read. Their cost is part of sweeper's wall time.
        sw.ModelCheckpoint(save_best_only=True),
        sw.TensorBoard(),
    ],
)
