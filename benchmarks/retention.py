"""Benchmark the checkpoint retention pass a worker runs after every trial, as a study grows to 1,000 trials.

Each step ends one more trial on a real journal storage, with a real checkpoint file of
``--checkpoint-kb``, and times the pass that keeps the K best and deletes the rest, as a
worker does right after telling the storage. It prints the pass's time at a few study
sizes, beside a digits MLP epoch (about 0.1 s here) and a 10-epoch trial, the cost it is
paid out of. No Keras runs.

    python benchmarks/retention.py [--trials 1000] [--keep 5] [--checkpoint-kb 200]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import optuna

from sweeper.storage._open import open_storage
from sweeper.storage._retention import CHECKPOINT_ATTR, CHECKPOINT_FILES_ATTR, KEEP_ATTR, retain_checkpoints

EPOCH_S = 0.1  # a digits MLP epoch on this machine (docs: DESIGN §9)
REPORT_AT = (10, 100, 300, 1000, 3000)


def end_trial(study: optuna.Study, runs: Path, keep: int, size: int) -> None:
    """One trial that saved a checkpoint and completed, with the attrs the runner records."""
    trial = study.ask()
    checkpoint = runs / study.study_name / "trials" / str(trial.number) / "checkpoints" / "best.keras"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(os.urandom(size))
    for key, value in (
        (KEEP_ATTR, keep),
        (CHECKPOINT_ATTR, str(checkpoint)),
        (CHECKPOINT_FILES_ATTR, [str(checkpoint)]),
    ):
        trial.set_user_attr(key, value)
    study.tell(trial, random.random())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--keep", type=int, default=5)
    parser.add_argument("--checkpoint-kb", type=int, default=200)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    random.seed(0)
    runs = Path(tempfile.mkdtemp(prefix="retention-"))
    storage = open_storage(str(runs / "bench" / "journal.log"))
    study = optuna.create_study(study_name="bench", storage=storage, direction="maximize")
    print(f"keep_checkpoints={args.keep}, {args.checkpoint_kb} kB checkpoints, journal storage in {runs}")
    print(f"{'trials':>7} {'pass ms':>8} {'vs one epoch':>13} {'vs a 10-epoch trial':>20} {'files left':>11}")
    for number in range(1, args.trials + 1):
        end_trial(study, runs, args.keep, args.checkpoint_kb * 1024)
        started = time.perf_counter()
        retain_checkpoints(study, runs, args.keep)
        elapsed = time.perf_counter() - started
        if number in REPORT_AT or number == args.trials:
            left = len(list((runs / "bench" / "trials").glob("*/checkpoints/*")))
            print(
                f"{number:>7} {elapsed * 1e3:>8.1f} {elapsed / EPOCH_S:>12.1%} {elapsed / (10 * EPOCH_S):>19.2%} "
                f"{left:>11}"
            )


if __name__ == "__main__":
    main()
