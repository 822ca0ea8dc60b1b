"""Pools several peers.py runs, to compare pruner settings at common targets.

    python benchmarks/peers_pool.py /tmp/peers-a /tmp/peers-b
    python benchmarks/peers_pool.py /tmp/peers-a /tmp/peers-b --rename /tmp/peers-b:sweeper-sha=sha-rf2
    python benchmarks/peers_pool.py /tmp/peers-a --replay    # also replays a grid of pruners

One peers.py run times every contender to its own reference's median best, and that
target moves between runs: on digits-300 it was 0.9626, 0.9633, 0.9673 and 0.9686 in
four 5-seed runs of the same code. Two runs' "epochs to target" are therefore measured
against different bars and do not compare. This script pools the runs of every
directory given, and reads each contender's epochs to the same targets: by default the
pooled reference's 25th, 50th and 75th percentile best. The limit is the issue's: half
of the reference's median total epochs.

``--replay`` replays a grid of Optuna pruners on the reference's learning curves: the
same trials under each pruner, so a pruner's share of the epochs and the winners it
kills are read without the noise of a live sweep. A live sweep differs: TPE sees the
pruned trials and proposes other ones, so the replay ranks pruners, it does not
predict a live run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import REFERENCE, _markdown, best_so_far, fmt, replay_summary, replayed_trials  # noqa: E402


def load(dirs: list[Path], renames: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Every trial of every run in ``dirs``, with the run's directory in column ``run``.

    Args:
        dirs: peers.py output directories (each holds ``peers_trials.csv``).
        renames: ``(directory, contender) -> label``, for runs made with a patched
            sweeper whose contender name no longer says what ran.

    Returns:
        The pooled trials.
    """
    frames = []
    for directory in dirs:
        trials = pd.read_csv(directory / "peers_trials.csv").assign(run=str(directory))
        labels = {contender: label for (run, contender), label in renames.items() if Path(run) == directory}
        frames.append(trials.assign(contender=trials["contender"].replace(labels)))
    return pd.concat(frames, ignore_index=True)


def epochs_to(run: pd.DataFrame, target: float) -> float:
    """Epochs the run had spent when its best first reached ``target``; inf if never."""
    curve = best_so_far(run)
    reached = curve[curve["best"] >= target]
    return float(reached["epochs_spent"].iloc[0]) if len(reached) else np.inf


def runs_of(trials: pd.DataFrame, problem_name: str, contender: str) -> list[pd.DataFrame]:
    """The runs (directory, seed) of one contender on one problem."""
    mine = trials[(trials["problem"] == problem_name) & (trials["contender"] == contender)]
    return [run for _, run in mine.groupby(["run", "seed"])]


def default_targets(trials: pd.DataFrame, problem_name: str) -> list[float]:
    """The pooled reference's 25th, 50th and 75th percentile best, one per run."""
    bests = [run["value"].max() for run in runs_of(trials, problem_name, REFERENCE)]
    if not bests:
        raise SystemExit(f"no {REFERENCE} run on {problem_name} in the directories given: it sets the targets.")
    # "lower" picks a best some run really had: a value between two never occurs.
    return sorted(set(float(np.percentile(bests, q, method="lower")) for q in (25, 50, 75)))


def pooled_table(trials: pd.DataFrame, problem_name: str, targets: list[float]) -> str:
    """Per contender: runs, median best, and per target the median epochs to it."""
    reference_epochs = np.median([run["epochs"].sum() for run in runs_of(trials, problem_name, REFERENCE)])
    limit = reference_epochs / 2
    rows = []
    for contender in sorted(
        trials.loc[trials["problem"] == problem_name, "contender"].unique(), key=lambda c: (c != REFERENCE, c)
    ):
        runs = runs_of(trials, problem_name, contender)
        row = [contender, str(len(runs)), fmt(np.median([run["value"].max() for run in runs]), 4)]
        for target in targets:
            spent = np.array([epochs_to(run, target) for run in runs])
            row.append(
                f"{fmt(np.median(spent), 0)} ({np.isfinite(spent).sum()}/{len(runs)}, {(spent <= limit).sum()} within)"
            )
        rows.append(row)
    head = ["contender", "runs", "median best", *[f"epochs to {t:.4f} (reached, within {limit:.0f})" for t in targets]]
    return (
        f"\n### {problem_name}: epochs to common targets, medians over pooled runs "
        f"(limit: half the reference's {reference_epochs:.0f} epochs = {limit:.0f})\n\n" + _markdown(head, rows)
    )


def pruner_grid() -> dict[str, Callable[[], Any]]:
    """Named factories of the pruners the replay compares (each replay needs a fresh one)."""
    import optuna

    pruners = optuna.pruners
    grid: dict[str, Callable[[], Any]] = {}
    for warmup in (2, 4, 6):
        grid[f"median, warm-up {warmup}"] = lambda w=warmup: pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=w)
    grid["top quarter, warm-up 2"] = lambda: pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=2)
    for resource, factor in ((1, 2), (1, 4), (3, 2), (4, 4)):
        grid[f"successive halving, min {resource}, factor {factor}"] = lambda r=resource, f=factor: (
            pruners.SuccessiveHalvingPruner(min_resource=r, reduction_factor=f)
        )
    for resource, factor in ((1, 3), (1, 4), (3, 3), (4, 4)):
        grid[f"Hyperband, min {resource}, factor {factor}"] = lambda r=resource, f=factor: pruners.HyperbandPruner(
            min_resource=r, max_resource=15, reduction_factor=f
        )
    return grid


def replay_table(trials: pd.DataFrame, problem_name: str, targets: list[float]) -> str:
    """Each pruner of the grid replayed on every reference run, pooled.

    Efficiency is the share of winners kept over the share of epochs spent: how many
    times more winners per epoch than no pruning, on the same trials. A winner is a
    trial whose best reaches the target.
    """
    curves = [
        [json.loads(c) for c in run.sort_values("number")["curve"].fillna("[]")]
        for run in runs_of(trials, problem_name, REFERENCE)
    ]
    full = sum(len(c) for run in curves for c in run)
    winners = [sum(bool(c) and max(c) >= t for run in curves for c in run) for t in targets]
    rows = []
    for name, make in pruner_grid().items():
        replays = [replayed_trials(run, make()) for run in curves]  # once: the targets only count differently
        share = sum(replay_summary(replayed, 0.0)["epochs"] for replayed in replays) / full
        killed = [sum(replay_summary(replayed, t)["pruned that reach target"] for replayed in replays) for t in targets]
        rows.append(
            [
                name,
                fmt(share, 2),
                *[
                    f"{k}/{w}, {fmt((1 - k / w) / share if w else np.nan, 2)}"
                    for k, w in zip(killed, winners, strict=False)
                ],
            ]
        )
    head = ["pruner", "share of epochs", *[f"winners killed, efficiency at {t:.4f}" for t in targets]]
    return (
        f"\n### {problem_name}: pruners replayed on {REFERENCE}'s curves ({len(curves)} runs, "
        f"{sum(len(run) for run in curves)} trials)\n\n" + _markdown(head, rows)
    )


def parse_renames(values: list[str]) -> dict[tuple[str, str], str]:
    """``DIR:CONTENDER=LABEL`` strings as a mapping."""
    renames = {}
    for value in values:
        where, _, label = value.partition("=")
        run, _, contender = where.rpartition(":")
        if not (run and contender and label):
            raise SystemExit(f"--rename {value!r}: write it as DIR:CONTENDER=LABEL.")
        renames[(run, contender)] = label
    return renames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path, help="peers.py output directories")
    parser.add_argument("--problem", default="digits-300")
    parser.add_argument("--targets", type=float, nargs="+", help="default: the pooled reference's quartile bests")
    parser.add_argument("--rename", nargs="*", default=[], metavar="DIR:CONTENDER=LABEL")
    parser.add_argument("--replay", action="store_true", help="also replay a grid of pruners on the reference's curves")
    args = parser.parse_args()

    trials = load(args.dirs, parse_renames(args.rename))
    targets = args.targets or default_targets(trials, args.problem)
    print(pooled_table(trials, args.problem, targets))
    if args.replay:
        print(replay_table(trials, args.problem, targets))


if __name__ == "__main__":
    main()
