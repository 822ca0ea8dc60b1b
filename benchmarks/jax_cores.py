"""Benchmark a JAX sweep with each worker confined to its share of the cores, against workers that may use them all.

XLA's CPU thread pools follow the cores a process may run on, and no flag caps them
any more (``sweeper.execution._cpus``), so without confinement ``--jobs N`` JAX workers
each run as many threads as the machine has cores. The script runs the same sweep both
ways, alternating, in fresh processes, and prints the wall times and their ratio; the
unconfined runs differ only by dropping the slot's ``SWEEPER_CPUS`` from each worker's
environment. Needs JAX; TensorFlow is not used.

    python benchmarks/jax_cores.py [--study studies/digits.py] [--n-trials 8] [--jobs 2] [--rounds 2]
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

REPO = Path(__file__).resolve().parents[1]
# Runs one sweep in this child process; with "all", every worker may use every core.
CHILD = """
import sys
from sweeper.backends.local import _backend
if sys.argv[1] == "all":
    _backend.cpus_env = lambda share, cpus: {}
from sweeper.cli import main
main(["run", sys.argv[2], "--n-trials", sys.argv[3], "--jobs", sys.argv[4], "--storage", sys.argv[5]])
"""


def one_sweep(mode: str, study: Path, n_trials: int, jobs: int) -> float:
    """Wall time of one whole ``sweeper run`` (worker start-up included), in a fresh folder."""
    folder = Path(tempfile.mkdtemp(prefix=f"jax-cores-{mode}-"))
    storage = str(folder / "journal.log")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    args = [sys.executable, "-c", CHILD, mode, str(study), str(n_trials), str(jobs), storage]
    run = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"the {mode} sweep failed:\n{run.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=REPO / "studies" / "digits.py")
    parser.add_argument("--n-trials", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"{args.study.name}: {args.n_trials} trials, --jobs {args.jobs}, on {cores} cores, KERAS_BACKEND=jax")
    times: dict[str, list[float]] = {"confined": [], "all": []}
    for round_ in range(args.rounds):
        for mode in ("confined", "all") if round_ % 2 == 0 else ("all", "confined"):
            times[mode].append(one_sweep(mode, args.study.resolve(), args.n_trials, args.jobs))
            print(f"  round {round_ + 1}, {mode:>8}: {times[mode][-1]:.1f} s")
    confined, unconfined = statistics.median(times["confined"]), statistics.median(times["all"])
    print(f"median: confined {confined:.1f} s, every core {unconfined:.1f} s; speed-up {unconfined / confined:.2f}x")


if __name__ == "__main__":
    main()
