"""Parallel efficiency, per-trial overhead and worker memory, measured side by side in one run.

    python benchmarks/parallel.py [--trials 24] [--epochs 15] [--repeat 3] [--memory-trials 100]

Every contender runs the same fits (benchmarks/_fits.py: a digits MLP with EarlyStopping,
ReduceLROnPlateau, ModelCheckpoint and TensorBoard), and every wall time includes process
start-up and the TensorFlow import, as a user would see it:

- sweeper: `sweeper run --jobs 2` (loky worker processes);
- bare x2: two independent Keras processes, each doing half the fits (the hardware's limit);
- bare x1: one Keras process doing all the fits;
- optuna threads: one process, `study.optimize(n_jobs=2)`.

Targets (benchmarks/README.md): sweeper >= 0.95 of bare x2, ahead of optuna threads; time outside
model.fit <= 5% of a trial; worker RSS growth < 100 MB over 100 trials.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
SWEEP_NAME = "bench-parallel"  # round n's study is bench-parallel-n


def timed(commands: list[list[str]], env: dict[str, str] | None = None) -> float:
    """Starts the commands at once and returns the wall time until the last one ends."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(c, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    for process, command in zip(processes, commands, strict=False):
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    return time.perf_counter() - started


def sweep(work: Path, name: str, trials: int, epochs: int, jobs: int) -> tuple[float, pd.DataFrame]:
    env = {**ENV, "SWEEPER_BENCH_NAME": name, "SWEEPER_BENCH_EPOCHS": str(epochs)}
    command = [
        sys.executable,
        "-m",
        "sweeper",
        "run",
        str(HERE / "bench_study.py"),
        "--jobs",
        str(jobs),
        "--n-trials",
        str(trials),
        "--runs-dir",
        str(work / "runs"),
        "--reports-dir",
        str(work / "reports"),
    ]
    seconds = timed([command], env)
    return seconds, pd.read_csv(work / "reports" / name / "trials.csv")


def bare(work: Path, processes: int, trials: int, epochs: int) -> float:
    per_process = trials // processes
    command = [sys.executable, str(HERE / "_bare_fits.py"), "--fits", str(per_process), "--epochs", str(epochs)]
    return timed([command + ["--out", str(work / f"bare{processes}-{i}")] for i in range(processes)])


def optuna_threads(work: Path, trials: int, epochs: int) -> float:
    command = [
        sys.executable,
        str(HERE / "_optuna_threads.py"),
        "--trials",
        str(trials),
        "--epochs",
        str(epochs),
        "--jobs",
        "2",
        "--out",
        str(work / "threads"),
    ]
    return timed([command])


def throughput(args: argparse.Namespace, work: Path) -> pd.DataFrame:
    """Bare x1 once, then ``--repeat`` rounds of bare x2, Optuna threads and sweeper, back to back.

    This VM's speed drifts by up to 10% over minutes, so each round's ratios compare
    neighbours in time, and the table gives the median over the rounds.
    """
    seconds = {"bare x1": [bare(work, 1, args.trials, args.epochs)]}
    print(f"  {'bare x1':<26} {seconds['bare x1'][0]:7.1f} s", flush=True)
    contenders = {
        "bare x2": lambda number: bare(work, 2, args.trials, args.epochs),
        "optuna threads n_jobs=2": lambda number: optuna_threads(work, args.trials, args.epochs),
        "sweeper --jobs 2": lambda number: sweep(work, f"{SWEEP_NAME}-{number}", args.trials, args.epochs, 2)[0],
    }
    ratios: dict[str, list[float]] = {name: [] for name in [*seconds, *contenders]}
    for round_number in range(1, args.repeat + 1):
        timed_round = {name: run(round_number) for name, run in contenders.items()}
        for name, value in timed_round.items():
            seconds.setdefault(name, []).append(value)
            ratios[name].append(timed_round["bare x2"] / value)
            print(
                f"  round {round_number}: {name:<26} {value:7.1f} s  ({timed_round['bare x2'] / value:.3f} of bare x2)",
                flush=True,
            )
    ratios["bare x1"] = [seconds["bare x2"][0] / seconds["bare x1"][0]]  # against round 1, its neighbour in time
    rows = [
        {
            "contender": name,
            "median s": round(statistics.median(times), 1),
            "trials_per_min": round(args.trials / statistics.median(times) * 60, 1),
            "vs bare x2 (median of rounds)": round(statistics.median(ratios[name]), 3),
            "per round": " ".join(f"{ratio:.3f}" for ratio in ratios[name]),
        }
        for name, times in seconds.items()
    ]
    return pd.DataFrame(rows).set_index("contender")


def overhead(trials: pd.DataFrame) -> dict[str, float]:
    outside = (trials["duration_s"] - trials["fit_s"]).clip(lower=0)
    return {
        "trials": len(trials),
        "workers (TF imports)": trials["pid"].nunique(),
        "median s outside fit per trial": round(outside.median(), 3),
        "share of trial time outside fit": round(outside.sum() / trials["duration_s"].sum(), 4),
    }


def memory(trials: pd.DataFrame, seconds: float) -> dict[str, float]:
    """Each worker's RSS growth above its first trial; workers are recycled past a budget."""
    trials = trials.sort_values("trial")
    growth = trials.groupby("pid", sort=False)["worker_rss_mb"].agg(lambda rss: rss.max() - rss.iloc[0])
    return {
        "trials": len(trials),
        "worker processes (recycled)": trials["pid"].nunique(),
        "largest growth of one worker (MB)": round(growth.max(), 1),
        "RSS of first trial / max (MB)": f"{trials['worker_rss_mb'].iloc[0]} / {trials['worker_rss_mb'].max()}",
        "wall seconds, incl. recycling": round(seconds, 1),
        "median trial seconds": round(trials["duration_s"].median(), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of bare x2, Optuna threads and sweeper")
    parser.add_argument("--memory-trials", type=int, default=100)
    parser.add_argument("--memory-epochs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sweeper-bench-") as tmp:
        work = Path(tmp)
        print(f"throughput: {args.trials} fits x {args.epochs} epochs each, on {os.cpu_count()} cores", flush=True)
        table = throughput(args, work)
        print(table.to_string(), "\n")
        trials = pd.concat(
            pd.read_csv(work / "reports" / f"{SWEEP_NAME}-{n}" / "trials.csv") for n in range(1, args.repeat + 1)
        )
        print(f"overhead (sweeper --jobs 2 trials, all {args.repeat} rounds):")
        for key, value in overhead(trials).items():
            print(f"  {key:<36} {value}")
        if args.memory_trials:
            print(f"\nmemory: one worker, {args.memory_trials} trials x {args.memory_epochs} epochs", flush=True)
            seconds, trials = sweep(work, "bench-memory", args.memory_trials, args.memory_epochs, 1)
            for key, value in memory(trials, seconds).items():
                print(f"  {key:<36} {value}")
        sweeper_ratio = table.loc["sweeper --jobs 2", "vs bare x2 (median of rounds)"]
        threads_ratio = table.loc["optuna threads n_jobs=2", "vs bare x2 (median of rounds)"]
        print(f"\nsweeper/bare x2 = {sweeper_ratio:.3f} (target >= 0.95); optuna threads/bare x2 = {threads_ratio:.3f}")


if __name__ == "__main__":
    main()
