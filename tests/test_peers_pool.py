"""benchmarks/peers_pool.py: pooled epochs to common targets, and the pruner replay, on scripted runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import peers_pool  # noqa: E402
from peers import replay_pruner, replay_summary, replayed_trials  # noqa: E402


def _run(contender: str, seed: int, values: list[float], epochs: list[int]) -> pd.DataFrame:
    """One scripted run: trials finishing one second apart, in the order given."""
    return pd.DataFrame(
        {
            "number": range(len(values)),
            "state": "COMPLETE",
            "value": values,
            "epochs": epochs,
            "t_end": np.arange(1.0, len(values) + 1),
            "problem": "digits-300",
            "contender": contender,
            "seed": seed,
            "curve": [json.dumps([v] * e) for v, e in zip(values, epochs, strict=False)],
        }
    )


@pytest.fixture
def two_dirs(tmp_path: Path) -> list[Path]:
    first, second = tmp_path / "a", tmp_path / "b"
    for directory in (first, second):
        directory.mkdir()
    pd.concat(
        [
            _run("sweeper-none", 0, [0.90, 0.95, 0.97], [10, 10, 10]),
            _run("sweeper-median", 0, [0.96, 0.97], [5, 5]),
        ]
    ).to_csv(first / "peers_trials.csv", index=False)
    pd.concat(
        [
            _run("sweeper-none", 0, [0.91, 0.93, 0.96], [10, 10, 10]),
            _run("sweeper-median", 0, [0.92, 0.94], [5, 5]),
        ]
    ).to_csv(second / "peers_trials.csv", index=False)
    return [first, second]


def test_epochs_to_target_counts_every_trial_finished_by_the_hit(two_dirs: list[Path]) -> None:
    trials = peers_pool.load(two_dirs, {})
    runs = peers_pool.runs_of(trials, "digits-300", "sweeper-none")

    assert [peers_pool.epochs_to(run, 0.95) for run in runs] == [20.0, 30.0]
    assert peers_pool.epochs_to(runs[1], 0.97) == np.inf


def test_targets_are_quartile_bests_some_reference_run_had(tmp_path: Path) -> None:
    bests = [0.94, 0.95, 0.96, 0.97, 0.98]
    trials = pd.concat([_run("sweeper-none", seed, [0.5, best], [10, 10]) for seed, best in enumerate(bests)])

    assert peers_pool.default_targets(trials.assign(run="a"), "digits-300") == [0.95, 0.96, 0.97]


def test_targets_need_a_reference_run(two_dirs: list[Path]) -> None:
    with pytest.raises(SystemExit, match="no sweeper-none run on digits"):
        peers_pool.default_targets(peers_pool.load(two_dirs, {}), "digits")


def test_pooled_table_reads_each_contender_against_the_same_targets(two_dirs: list[Path]) -> None:
    table = peers_pool.pooled_table(peers_pool.load(two_dirs, {}), "digits-300", [0.96])

    # The reference trained 30 epochs a run: the limit is 15.
    assert "half the reference's 30 epochs = 15" in table
    assert "| sweeper-none | 2 | 0.9650 | 30 (2/2, 0 within) |" in table
    assert "| sweeper-median | 2 | 0.9550 | never (1/2, 1 within) |" in table


def test_rename_relabels_one_directory_only(two_dirs: list[Path]) -> None:
    renames = peers_pool.parse_renames([f"{two_dirs[1]}:sweeper-median=sha-rf2"])
    trials = peers_pool.load(two_dirs, renames)

    assert sorted(trials.loc[trials["run"] == str(two_dirs[1]), "contender"].unique()) == ["sha-rf2", "sweeper-none"]
    assert "sweeper-median" in set(trials.loc[trials["run"] == str(two_dirs[0]), "contender"])


def test_rename_without_a_label_is_refused() -> None:
    with pytest.raises(SystemExit, match="DIR:CONTENDER=LABEL"):
        peers_pool.parse_renames(["/tmp/run:sweeper-sha"])


def test_replay_counts_the_winner_a_median_pruner_kills() -> None:
    # Five startup trials climb to 0.9; the sixth lags at step 1, then would have won.
    curves = [[0.5, 0.8, 0.9]] * 5 + [[0.1, 0.2, 0.99]]
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)

    replayed = replay_pruner(curves, pruner, target=0.95)

    assert replayed == {"pruned": 1, "epochs": 17, "best kept": 0.9, "pruned that reach target": 1}


def test_one_replay_is_read_against_several_targets() -> None:
    curves = [[0.5, 0.8, 0.9]] * 5 + [[0.1, 0.2, 0.99]]
    replayed = replayed_trials(curves, optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1))

    assert [pruned_at for _, pruned_at in replayed] == [None] * 5 + [2]
    assert replay_summary(replayed, 0.95)["pruned that reach target"] == 1
    assert replay_summary(replayed, 0.995)["pruned that reach target"] == 0
