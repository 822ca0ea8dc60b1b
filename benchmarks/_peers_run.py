"""One contender of benchmarks/peers.py, in a process of its own.

    python benchmarks/_peers_run.py CONTENDER --problem digits --seed 0 --epochs 20 \
        --trials 24 --jobs 2 --work DIR --out run.json [--kt-iterations 2] [--warmup 2] [--epoch-budget 360]

Each contender starts in a fresh interpreter, so every one pays its own Python and
TensorFlow start-up, and none inherits warm workers from another. It writes one JSON
file: a record per trial, with absolute wall-clock start and end times
(``time.time()``), the tool's own value for the trial, and the epochs it trained.
benchmarks/peers.py turns those into best-so-far curves relative to its own clock.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _peers_problem as problem  # noqa: E402

SWEEPER_PRUNERS = {
    "sweeper-none": "none",
    "sweeper-median": "median",
    "sweeper-hyperband": "hyperband",
    "sweeper-sha": "successive_halving",
    "sweeper-percentile": "percentile",
}
CONTENDERS = (*SWEEPER_PRUNERS, "kerastuner-hyperband", "optuna-median")

Record = dict[str, Any]


def optuna_record(trial: Any, epochs: int | None = None) -> Record:
    """A trial record from an Optuna FrozenTrial.

    Args:
        trial: The finished trial.
        epochs: The epochs it trained; defaults to the number of epochs it reported.

    Returns:
        The record: its value is the tool's objective for COMPLETE trials only,
        which is what the tool itself would call its best.
    """
    intermediate = list(trial.intermediate_values.values())
    state = trial.state.name
    return {
        "number": trial.number,
        "state": state,
        "value": trial.value if state == "COMPLETE" else None,
        "best_seen": max(intermediate) if intermediate else None,
        "epochs": len(intermediate) if epochs is None else int(epochs),
        "t_start": trial.datetime_start.timestamp() if trial.datetime_start else None,
        "t_end": trial.datetime_complete.timestamp() if trial.datetime_complete else None,
        "fit_s": trial.user_attrs.get("fit_s"),
        # sweeper's worker-side trial time; the rest of t_end - t_start is queueing.
        "duration_s": trial.user_attrs.get("duration_s"),
        "pid": trial.user_attrs.get("pid"),
        "stop_reason": trial.user_attrs.get("stop_reason"),
        "error": (trial.user_attrs.get("error") or "")[-300:] or None,
    }


def run_sweeper(args: argparse.Namespace) -> list[Record]:
    """sweeper's public API on benchmarks/peers_study.py, with the contender's pruner.

    Args:
        args: The command line.

    Returns:
        One record per trial.
    """
    name = f"peers-{args.contender}-{args.problem}-s{args.seed}"
    # The study file reads these; loky's workers inherit the environment.
    os.environ.update(
        PEERS_NAME=name,
        PEERS_PROBLEM=args.problem,
        PEERS_PRUNER=SWEEPER_PRUNERS[args.contender],
        PEERS_EPOCHS=str(args.epochs),
        PEERS_TRIALS=str(args.trials),
        PEERS_SEED=str(args.seed),
    )
    import optuna
    import pandas as pd

    import sweeper

    journal = args.work / "journal.log"
    sweeper.run(
        HERE / "peers_study.py",
        jobs=args.jobs,
        n_trials=args.trials,
        epoch_budget=args.epoch_budget,
        storage=str(journal),
        runs_dir=args.work / "runs",
        reports_dir=args.work / "reports",
        progress=False,
    )
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name=name, storage=storage)
    records = [optuna_record(t, t.user_attrs.get("epochs_run")) for t in study.get_trials(deepcopy=False)]
    # Each trial's raw val_accuracy per epoch, from sweeper's own report (read from the
    # TensorBoard logs): peers.py replays pruners on the no-pruning sweep's curves.
    epochs = pd.read_csv(args.work / "reports" / name / "epochs.csv")
    curves = {
        int(trial): group.sort_values("epoch")[problem.MONITOR].tolist() for trial, group in epochs.groupby("trial")
    }
    for record, trial in zip(records, study.get_trials(deepcopy=False), strict=False):
        record["curve"] = json.dumps(curves.get(trial.number, []))
        record["rss_mb"] = trial.user_attrs.get("worker_rss_mb")
    return records


def run_optuna(args: argparse.Namespace) -> list[Record]:
    """Hand-written Optuna, as users write it today: threads, TFKerasPruningCallback, MedianPruner.

    Args:
        args: The command line.

    Returns:
        One record per trial.
    """
    import keras
    import optuna
    from optuna_integration import TFKerasPruningCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    keras.utils.set_random_seed(args.seed)  # once: it is process-global, and trials run in threads
    (x, y), validation = problem.load_data(args.problem)

    def objective(trial: optuna.Trial) -> float:
        model = problem.build_model(
            filters=trial.suggest_int("filters", *problem.FILTERS, log=True),
            units=trial.suggest_int("units", *problem.UNITS, log=True),
            lr=trial.suggest_float("lr", *problem.LR, log=True),
        )
        callbacks = problem.keras_callbacks(
            patience=trial.suggest_categorical("EarlyStopping.patience", problem.PATIENCES),
            factor=trial.suggest_categorical("ReduceLROnPlateau.factor", problem.FACTORS),
        )
        started = time.perf_counter()
        try:
            history = model.fit(
                x,
                y,
                validation_data=validation,
                epochs=args.epochs,
                batch_size=problem.BATCH_SIZE,
                callbacks=[*callbacks, TFKerasPruningCallback(trial, problem.MONITOR)],
                verbose=0,
            )
        finally:  # a pruned trial leaves fit by raising TrialPruned
            trial.set_user_attr("fit_s", round(time.perf_counter() - started, 3))
        # The same objective as sweeper's: the best epoch, which restore_best_weights keeps.
        return max(history.history[problem.MONITOR])

    study = optuna.create_study(
        direction="maximize",
        # constant_liar: Optuna's documented setting for parallel TPE (sweeper uses it too).
        sampler=optuna.samplers.TPESampler(seed=args.seed, constant_liar=True),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=args.warmup),
    )

    def stop_at_epoch_budget(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        # Optuna's documented way to end optimize() early (as MaxTrialsCallback does); a trial's
        # epochs are its reports, one per epoch from TFKerasPruningCallback. Running trials finish.
        spent = sum(len(t.intermediate_values) for t in study.get_trials(deepcopy=False))
        if args.epoch_budget and spent >= args.epoch_budget:
            study.stop()

    study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs, callbacks=[stop_at_epoch_budget])
    return [optuna_record(t) for t in study.get_trials(deepcopy=False)]


def run_kerastuner(args: argparse.Namespace) -> list[Record]:
    """KerasTuner Hyperband, serial in one process, tuning the callbacks in HyperModel.fit.

    Args:
        args: The command line.

    Returns:
        One record per trial (a Hyperband round that continues a model is a trial).
    """
    import keras
    import keras_tuner as kt

    keras.utils.set_random_seed(args.seed)
    (x, y), validation = problem.load_data(args.problem)
    records: list[Record] = []

    class EpochCounter(keras.callbacks.Callback):
        """Counts the epochs a trial really trains (a continued round starts at initial_epoch)."""

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            records[-1]["epochs"] += 1

    class PeersHyperModel(kt.HyperModel):
        def build(self, hp: kt.HyperParameters) -> keras.Model:
            return problem.build_model(
                filters=hp.Int("filters", *problem.FILTERS, sampling="log"),
                units=hp.Int("units", *problem.UNITS, sampling="log"),
                lr=hp.Float("lr", *problem.LR, sampling="log"),
            )

        def fit(
            self, hp: kt.HyperParameters, model: keras.Model, *fit_args: Any, callbacks: Any = None, **kwargs: Any
        ) -> Any:
            # KerasTuner's documented way to tune fit's own arguments: override HyperModel.fit.
            tuned = problem.keras_callbacks(
                patience=hp.Choice("EarlyStopping.patience", list(problem.PATIENCES)),
                factor=hp.Choice("ReduceLROnPlateau.factor", list(problem.FACTORS)),
            )
            started = time.perf_counter()
            history = model.fit(*fit_args, callbacks=[*(callbacks or []), *tuned, EpochCounter()], **kwargs)
            records[-1]["fit_s"] = round(time.perf_counter() - started, 3)
            return history

    class TimedHyperband(kt.Hyperband):
        """Hyperband that timestamps each trial's start and end, as the Optuna-based tools store."""

        def on_trial_begin(self, trial: Any) -> None:
            records.append({"number": len(records), "epochs": 0, "t_start": time.time(), "fit_s": None})
            super().on_trial_begin(trial)

        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            ended = self.oracle.get_trial(trial.trial_id)
            completed = ended.status == "COMPLETED" and ended.score is not None
            records[-1].update(
                state="COMPLETE" if completed else str(ended.status),
                value=float(ended.score) if completed else None,
                best_seen=float(ended.score) if completed else None,
                t_end=time.time(),
            )

    tuner = TimedHyperband(
        PeersHyperModel(),
        objective=kt.Objective(problem.MONITOR, direction="max"),
        max_epochs=args.epochs,
        factor=3,
        hyperband_iterations=args.kt_iterations,
        seed=args.seed,
        directory=str(args.work),
        project_name="kerastuner",
        overwrite=True,
    )
    tuner.search(x, y, validation_data=validation, batch_size=problem.BATCH_SIZE, verbose=0)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("--problem", choices=sorted(problem.PROBLEMS), required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=0, help="MedianPruner n_warmup_steps (optuna-median)")
    parser.add_argument("--kt-iterations", type=int, default=1, help="Hyperband iterations (kerastuner-hyperband)")
    parser.add_argument(
        "--epoch-budget",
        type=int,
        default=None,
        help="Start no trial once the trials trained this many epochs (sweeper, optuna-median)",
    )
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.contender in SWEEPER_PRUNERS:
        records = run_sweeper(args)
    elif args.contender == "optuna-median":
        records = run_optuna(args)
    else:
        records = run_kerastuner(args)
    # When the tool's call returned: after sweeper's reports, before the interpreter's exit.
    done = time.time()
    args.out.write_text(json.dumps({"contender": args.contender, "trials": records, "t_done": done}))


if __name__ == "__main__":
    main()
