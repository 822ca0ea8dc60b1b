"""Check the EarlyStopping replay against real runs: patience 2 and 5 replayed from patience 10, on real trials.

``studies/patience_factor.py`` runs every cell of EarlyStopping patience {2, 5, 10} x
ReduceLROnPlateau factor {0.2, 0.5} with seeds 0, 1 and 2, unpruned, with
``restore_best_weights``. Until EarlyStopping stops a fit, a run is the same whatever its
patience, so replaying patience 2 and 5 over each patience-10 trial's logged curve should
give what the real patience-2 and patience-5 trials of the same factor and seed did.

The script runs the study (``--jobs 2``, in a temporary folder unless ``--runs-dir``
names one), replays patience 2 and 5 from its patience-10 trials
(``sweeper.replay_early_stopping``), and pairs each replayed (factor, seed, patience) with
the real trial. A pair matches when its epochs run are equal and its values equal within
1e-7 relative. For a pair that does not, it compares the real trial's logged curves with
the patience-10 trial's over the epochs both ran: the first epoch where they diverge means
the real runs were not deterministic; identical curves mean the replay itself is wrong.

Exits 0 whatever the match count (it is a measurement), 1 when the sweep or its report is
not the grid the study declares.

    python benchmarks/replay_vs_real.py                  # the sweep, then the check: ~70 s on 2 cores
    python benchmarks/replay_vs_real.py --runs-dir DIR   # sweep into DIR, or reuse the sweep DIR already holds
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import sweeper

STUDY_FILE = Path(__file__).resolve().parent.parent / "studies" / "patience_factor.py"
STUDY_NAME = "patience_factor"
N_TRIALS = 18  # 3 patience x 2 factor x 3 seeds
SOURCE_PATIENCE = 10
REPLAYED_PATIENCE = [2, 5]
REL_TOL = 1e-7
PATIENCE = "params_EarlyStopping.patience"
FACTOR = "params_ReduceLROnPlateau.factor"
KEY = ["factor", "seed", "patience"]


class SetupError(Exception):
    """The sweep or its report is not what the study declares: no measurement to make."""


def held_results(runs_dir: Path) -> int:
    """Trials of the study under ``runs_dir`` that count as results (0 when it has not run there)."""
    if not runs_dir.is_dir():
        return 0
    studies = sweeper.list_studies(runs_dir)
    row = studies[studies["study"] == STUDY_NAME]
    if row.empty:
        return 0
    return int(row[["complete", "pruned", "failed"]].sum(axis=1).iloc[0])


def sweep(runs_dir: Path, reports_dir: Path, jobs: int) -> None:
    """Runs the study into ``runs_dir``, unless it already holds its results there."""
    held = held_results(runs_dir)
    if held >= N_TRIALS:
        print(f"reusing {runs_dir}: study {STUDY_NAME!r} holds {held} of {N_TRIALS} results", flush=True)
        return
    print(f"sweep: {STUDY_FILE.name}, {N_TRIALS} trials, --jobs {jobs}, into {runs_dir}", flush=True)
    started = time.perf_counter()
    result = sweeper.run(STUDY_FILE, jobs=jobs, runs_dir=runs_dir, reports_dir=reports_dir, progress=False)
    print(f"sweep: {result.n_results} results in {time.perf_counter() - started:.1f} s", flush=True)


def real_trials(report: sweeper.Report) -> pd.DataFrame:
    """The COMPLETE trials, keyed by (factor, seed, patience); exactly one per cell of the grid."""
    trials = report.trials
    complete = trials[trials["state"] == "COMPLETE"].dropna(subset=[PATIENCE, FACTOR, "seed"])
    frame = complete.assign(
        factor=complete[FACTOR].astype(float),
        seed=complete["seed"].astype(int),
        patience=complete[PATIENCE].astype(int),
    )
    counts = frame.groupby(KEY).size()
    expected = pd.MultiIndex.from_product(
        [[0.2, 0.5], [0, 1, 2], sorted({*REPLAYED_PATIENCE, SOURCE_PATIENCE})], names=KEY
    )
    missing = [cell for cell in expected if counts.get(cell, 0) != 1]
    if missing:
        states = trials["state"].value_counts().to_dict()
        raise SetupError(f"expected one COMPLETE trial per (factor, seed, patience); not so for {missing} ({states})")
    return frame[["trial", *KEY, "epochs_run", "value", "stop_reason"]].reset_index(drop=True)


def replayed(report: sweeper.Report, real: pd.DataFrame) -> pd.DataFrame:
    """Patience 2 and 5 replayed over the patience-10 trials, keyed by their factor and seed."""
    table = sweeper.replay_early_stopping(report, patience=REPLAYED_PATIENCE).table
    sources = real[real["patience"] == SOURCE_PATIENCE][["trial", "factor", "seed"]]
    table = table.merge(sources, on="trial", how="inner").rename(columns={"trial": "source"})
    if len(table) != len(sources) * len(REPLAYED_PATIENCE):
        raise SetupError(
            f"the replay covers {len(table)} (trial, patience) rows of the patience-10 trials, not "
            f"{len(sources) * len(REPLAYED_PATIENCE)}: did they record their EarlyStopping?"
        )
    return table[["source", *KEY, "stop_epoch", "epochs_run", "value", "censored"]]


def paired(replay: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """One row per replayed (factor, seed, patience) beside the real trial, with whether they match."""
    pairs = replay.merge(real, on=KEY, how="inner", suffixes=("_replay", "_real"))
    pairs["epochs_match"] = pairs["epochs_run_replay"].astype(int) == pairs["epochs_run_real"].astype(int)
    pairs["value_match"] = [
        not censored and math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)
        for a, b, censored in zip(pairs["value_replay"], pairs["value_real"], pairs["censored"], strict=True)
    ]
    pairs["match"] = pairs["epochs_match"] & pairs["value_match"]
    return pairs.sort_values(KEY, ignore_index=True)


def first_divergence(epochs: pd.DataFrame, real_trial: int, source_trial: int) -> str:
    """Where the real trial's logged curves first differ from the patience-10 trial's, over the epochs both ran."""
    real = epochs[epochs["trial"] == real_trial].set_index("epoch").drop(columns="trial")
    source = epochs[epochs["trial"] == source_trial].set_index("epoch").drop(columns="trial")
    shared = real.index.intersection(source.index).sort_values()
    columns = [c for c in real.columns if real[c].notna().any() and source[c].notna().any()]
    for epoch in shared:
        for column in columns:
            a, b = real.at[epoch, column], source.at[epoch, column]
            if not (a == b or (pd.isna(a) and pd.isna(b))):
                return (
                    f"not deterministic: trial {real_trial} and patience-10 trial {source_trial} first diverge at "
                    f"epoch {epoch} (0-based) on {column}: {float(a)!r} vs {float(b)!r}"
                )
    return (
        f"curves of trial {real_trial} and patience-10 trial {source_trial} are identical over their "
        f"{len(shared)} shared epochs ({', '.join(columns)}): the replay itself disagrees"
    )


def explain(pair: pd.Series, epochs: pd.DataFrame) -> str:
    """Why a replayed pair differs from its real trial, as far as the logs tell."""
    if pair["censored"]:
        return "the replay is censored: it would run past the patience-10 trial's own stop"
    reason = first_divergence(epochs, int(pair["trial"]), int(pair["source"]))
    if pair["stop_reason"] not in ("early_stopping", "max_epochs"):
        reason = f"real trial stopped by {pair['stop_reason']}; {reason}"
    return reason


def print_table(pairs: pd.DataFrame) -> None:
    stop = pairs["stop_epoch"].map(lambda s: "-" if pd.isna(s) else str(int(s)))
    table = pd.DataFrame(
        {
            "factor": pairs["factor"],
            "seed": pairs["seed"],
            "patience": pairs["patience"],
            "from trial": pairs["source"],
            "replay stop_epoch": stop,
            "replay epochs": pairs["epochs_run_replay"].astype(int),
            "replay value": pairs["value_replay"].map(lambda v: f"{v:.7f}"),
            "real trial": pairs["trial"],
            "real epochs": pairs["epochs_run_real"].astype(int),
            "real value": pairs["value_real"].map(lambda v: f"{v:.7f}"),
            "real stop_reason": pairs["stop_reason"],
            "match": pairs["match"].map({True: "yes", False: "NO"}),
        }
    )
    print(table.to_string(index=False))


def check(runs_dir: Path) -> None:
    report = sweeper.load_report(STUDY_NAME, runs_dir=runs_dir)
    real = real_trials(report)
    pairs = paired(replayed(report, real), real)
    print(
        f"\nreplayed patience {REPLAYED_PATIENCE} from the patience-{SOURCE_PATIENCE} trials, beside the real trials:"
    )
    print_table(pairs)
    for _, pair in pairs[~pairs["match"]].iterrows():
        what = ", ".join(name for name in ("epochs", "value") if not pair[f"{name}_match"])
        print(
            f"  factor {pair['factor']}, seed {pair['seed']}, patience {pair['patience']}: {what} differ; "
            f"{explain(pair, report.epochs)}"
        )
    matched = int(pairs["match"].sum())
    verdict = "match epoch for epoch and value for value" if matched == len(pairs) else "match"
    print(f"\nreplay_vs_real: {matched}/{len(pairs)} (factor, seed, patience) {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", type=Path, help="sweep into DIR (kept), or reuse the study DIR already holds")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sweeper-replay-vs-real-") as tmp:
        runs_dir = args.runs_dir.resolve() if args.runs_dir else Path(tmp) / "runs"
        try:
            sweep(runs_dir, Path(tmp) / "reports", args.jobs)
            check(runs_dir)
        except (SetupError, sweeper.SweeperError) as error:
            print(f"replay_vs_real: setup error: {error}", file=sys.stderr)
            return 1
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
