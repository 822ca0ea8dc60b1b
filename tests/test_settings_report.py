import math

import pandas as pd
import pytest

from sweeper.reports._observations import observations_frame
from sweeper.reports._settings import callback_setting_columns, compare_settings, settings_frame


def trials_table() -> pd.DataFrame:
    rows = [
        # patience, factor, state, value, best_epoch, epochs_run
        (3, 0.1, "COMPLETE", 0.90, 4, 8),
        (3, 0.1, "COMPLETE", 0.94, 6, 10),
        (3, 0.1, "PRUNED", 0.50, 1, 3),
        (10, 0.1, "COMPLETE", 0.91, 5, 16),
        (10, 0.1, "FAIL", None, None, 2),
        (10, 0.5, "COMPLETE", 0.96, 9, 20),
    ]
    return pd.DataFrame(
        [
            {
                "trial": i,
                "params_EarlyStopping.patience": p,
                "params_ReduceLROnPlateau.factor": f,
                "params_units": 32,
                "state": s,
                "value": v,
                "best_epoch": b,
                "epochs_run": e,
            }
            for i, (p, f, s, v, b, e) in enumerate(rows)
        ]
    )


def test_one_row_per_callback_setting_with_counts_values_and_wasted_epochs():
    table = settings_frame(trials_table(), "max")
    assert list(table.index.names) == ["params_EarlyStopping.patience", "params_ReduceLROnPlateau.factor"]
    assert list(table.index) == [(10, 0.5), (3, 0.1), (10, 0.1)]  # best mean first
    row = table.loc[(3, 0.1)]
    assert (row["trials"], row["complete"], row["pruned"], row["failed"]) == (3, 2, 1, 0)
    assert row["value_mean"] == pytest.approx(0.92)  # the pruned 0.50 is not averaged in
    assert row["value_std"] == pytest.approx(math.sqrt(2 * 0.02**2))
    assert row["value_best"] == pytest.approx(0.94)
    assert row["epochs_mean"] == pytest.approx(7.0)
    assert row["wasted_epochs_mean"] == pytest.approx((3 + 3 + 1) / 3)
    slow = table.loc[(10, 0.1)]
    assert (slow["failed"], slow["value_mean"], slow["wasted_epochs_mean"]) == (
        1,
        pytest.approx(0.91),
        pytest.approx(10.0),
    )


def test_minimised_monitor_orders_and_picks_the_lowest():
    trials = trials_table().assign(value=lambda t: 1 - t["value"])
    table = settings_frame(trials, "min")
    assert list(table.index)[0] == (10, 0.5)
    assert table.loc[(3, 0.1), "value_best"] == pytest.approx(0.06)


def test_only_callback_params_define_a_setting():
    assert callback_setting_columns(trials_table()) == [
        "params_EarlyStopping.patience",
        "params_ReduceLROnPlateau.factor",
    ]
    plain = trials_table().drop(columns=["params_EarlyStopping.patience", "params_ReduceLROnPlateau.factor"])
    table = settings_frame(plain, "max")
    assert list(table.index) == ["all"] and table.loc["all", "trials"] == 6


def grid_trials(lr_reductions: int = 1) -> pd.DataFrame:
    """patience (2, 5) x factor (0.2, 0.5) x seeds 0-2 of one model: a paired design."""
    rows = []
    for seed in range(3):
        for patience in (2, 5):
            for factor in (0.2, 0.5):
                value = 0.90 + 0.01 * seed + (0.02 if factor == 0.5 else 0.0) + (0.001 * seed if patience == 5 else 0)
                rows.append(
                    {
                        "trial": len(rows),
                        "state": "COMPLETE",
                        "value": value,
                        "best_epoch": 3,
                        "epochs_run": 6 if patience == 2 else 9,
                        "lr_reductions": lr_reductions if factor == 0.5 else 0,
                        "params_EarlyStopping.patience": patience,
                        "params_ReduceLROnPlateau.factor": factor,
                        "params_units": 32,
                        "seed": seed,
                    }
                )
    return pd.DataFrame(rows)


def test_a_paired_grid_gets_intervals_paired_tests_and_the_pareto_front():
    comparison = compare(grid_trials())
    table = comparison.table
    best = table.iloc[0]
    assert best.name == (5, 0.5) and best["diff_vs_best"] == 0 and best["paired_trials"] == 3
    assert best["value_ci_low"] < best["value_mean"] < best["value_ci_high"]
    # factor 0.2 is 0.02 worse on every seed, plus a seed-dependent part: a real, detectable difference.
    worse = table.loc[(5, 0.2)]
    assert worse["diff_vs_best"] == pytest.approx(-0.02) and bool(worse["distinguishable"])
    # patience 2 at factor 0.5 costs fewer epochs and is on the front; patience 5 at 0.2 is dominated.
    assert bool(table.loc[(2, 0.5), "pareto"]) and not bool(table.loc[(5, 0.2), "pareto"])
    assert comparison.notes[0].startswith("Paired:")


def test_a_setting_that_acted_in_fewer_than_3_trials_is_called_underpowered():
    table = compare(grid_trials()).table
    acted = table["reduce_lr_acted"].groupby(level="params_ReduceLROnPlateau.factor").sum()
    assert acted.to_dict() == {0.2: 0, 0.5: 6}  # factor 0.5 cut the rate on every seed, at both patiences
    # No replay here: EarlyStopping counts as not fired, so every row is underpowered for patience.
    assert table["note"].str.contains("underpowered: EarlyStopping fired in 0 trial").all()
    assert table.loc[(5, 0.2), "note"].count("underpowered") == 2
    assert "underpowered" in compare(grid_trials()).notes[-1] and "sweeper confirm" in compare(grid_trials()).notes[-1]


def test_the_same_model_and_seed_recurring_in_two_cells_pairs_them_however_it_was_sampled():
    trials = grid_trials().assign(params_units=lambda t: [16, 32, 64] * 4, seed=0)
    comparison = compare(trials)
    assert comparison.notes[0].startswith("Paired:") and comparison.table["paired_trials"].max() >= 2


def test_settings_sampled_beside_model_params_are_confounded_and_get_no_tests():
    # As TPE samples: a continuous lr, never the same twice, so no model and seed recur across cells.
    trials = grid_trials().assign(params_lr=lambda t: 1e-3 * (1 + t["trial"]), seed=0)
    comparison = compare(trials)
    assert comparison.table["p_value"].isna().all() and comparison.table["value_ci_low"].isna().all()
    assert comparison.table["note"].str.startswith("confounded: sampled beside the model params").all()
    assert comparison.notes[0].startswith("Confounded:") and "sweeper confirm" in comparison.notes[0]


def test_trials_without_seeds_are_unpaired_and_a_single_trial_is_not_a_mean():
    table = settings_frame(trials_table(), "max")
    assert table.loc[(10, 0.5), "note"].startswith("unpaired") and "not a mean" in table.loc[(10, 0.5), "note"]


def compare(trials: pd.DataFrame):
    keys = callback_setting_columns(trials)
    return compare_settings(observations_frame(trials, keys, pd.DataFrame(), pd.DataFrame()), keys, "max")
