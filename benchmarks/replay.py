"""Benchmark the EarlyStopping replay: every patience 0-20 over 1,000 trials x 100 epochs. Target: under 1 s.

Builds synthetic report tables without running Keras: per trial, a noisy val_loss that
falls and then drifts up (the EarlyStopping's monitor) and a val_accuracy (the study's
monitor), 100 epochs each, every trial run to ``max_epochs`` with patience 20 (so the
default grid is patience 0..20: 21,000 replayed settings, none censored). Then times

- ``replay``: ``replay_tables``, what a report computes (the pandas tables in and out
  and the summary included), and
- ``stop_epochs``: the numpy core alone, on the same curves and settings,

each the best wall-clock time of ``--repeat`` runs.

    python benchmarks/replay.py [--trials 1000] [--epochs 100] [--max-patience 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from sweeper.reports._replay import RECORDED_COLUMNS, Settings, stop_epochs
from sweeper.reports._replay_tables import replay_tables

TARGET_S = 1.0


def synthetic_tables(trials: int, epochs: int, max_patience: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The trials, epochs and recorded EarlyStopping tables of a sweep that ran every trial to the end."""
    rng = np.random.default_rng(0)
    epoch = np.arange(epochs)
    floor = rng.uniform(5, 60, size=(trials, 1))
    trend = 1.0 / (1.0 + epoch / floor) + 0.002 * np.maximum(epoch - floor, 0)
    val_loss = (trend + rng.normal(0, 0.01, size=(trials, epochs))).astype(np.float32)
    val_accuracy = np.clip(1.0 - val_loss + rng.normal(0, 0.005, size=(trials, epochs)), 0, 1).astype(np.float32)
    epochs_frame = pd.DataFrame(
        {
            "trial": np.repeat(np.arange(trials), epochs),
            "epoch": np.tile(epoch, trials),
            "val_accuracy": val_accuracy.ravel().astype(np.float64),
            "val_loss": val_loss.ravel().astype(np.float64),
        }
    )
    trials_frame = pd.DataFrame(
        {
            "trial": np.arange(trials),
            "state": "COMPLETE",
            "value": val_accuracy.max(axis=1).astype(np.float64),
            "epochs_run": epochs,
            "stop_reason": "max_epochs",
        }
    )
    recorded = pd.DataFrame(
        {
            "trial": np.arange(trials),
            "monitor": "val_loss",
            "mode": "min",
            "patience": max_patience,
            "min_delta": 0.0,
            "baseline": None,
            "start_from_epoch": 0,
            "restore_best_weights": False,
            "max_epochs": epochs,
        },
        columns=RECORDED_COLUMNS,
    )
    return trials_frame, epochs_frame, recorded


def best_time(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--max-patience", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    trials, epochs, recorded = synthetic_tables(args.trials, args.epochs, args.max_patience)
    replay = replay_tables(trials, epochs, recorded, "val_accuracy", "max")
    settings = Settings.of(
        np.repeat(np.arange(args.trials), args.max_patience + 1),
        np.tile(np.arange(args.max_patience + 1), args.trials),
        0.0,
        np.nan,
        0,
        False,
    )
    curves = epochs["val_loss"].to_numpy(np.float32).reshape(args.trials, args.epochs)
    lengths = np.full(args.trials, args.epochs)

    full = best_time(lambda: replay_tables(trials, epochs, recorded, "val_accuracy", "max"), args.repeat)
    core = best_time(lambda: stop_epochs(curves, lengths, settings), args.repeat)
    rows = len(replay.table)
    print(f"{args.trials} trials x {args.epochs} epochs, patience 0-{args.max_patience}: {rows} replayed settings")
    print(f"  replay (tables in and out): {full:.3f} s   best of {args.repeat}")
    print(f"  stop_epochs (numpy core):   {core:.3f} s   best of {args.repeat}")
    print(f"  target: under {TARGET_S:.0f} s -> {'met' if full < TARGET_S else 'NOT met'}")
    stopped = replay.table["stop_epoch"].notna().mean()
    print(f"  {stopped:.0%} of the settings stop early; {int(replay.table['censored'].sum())} censored")


if __name__ == "__main__":
    main()
