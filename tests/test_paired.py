import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sweeper.reports._paired import PAIRED_COLUMNS, _holm, paired_comparison

PATIENCE = "params_EarlyStopping.patience"
FACTOR = "params_ReduceLROnPlateau.factor"


def observations(cells: dict, epochs: dict | None = None) -> pd.DataFrame:
    """One row per (patience, seed) from ``{patience: [value per seed]}``; None skips a seed."""
    epochs = epochs or {}
    return pd.DataFrame(
        [
            {PATIENCE: patience, "unit": f"mlp-32/seed{seed}", "value": value, "epochs_run": epochs.get(patience, 10)}
            for patience, values in cells.items()
            for seed, value in enumerate(values)
            if value is not None
        ]
    )


def t_interval(sample, level=0.95):
    sample = np.asarray(sample, dtype=float)
    return stats.t.interval(level, len(sample) - 1, loc=sample.mean(), scale=stats.sem(sample))


@pytest.fixture(autouse=True)
def no_warnings():
    # The edge cases must be handled, not left to scipy's division-by-zero and precision warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# Three cells x four seeds; patience 5 is best in mean and seed for seed.
THREE = {
    3: [0.90, 0.80, 0.70, 0.86],
    5: [0.92, 0.83, 0.71, 0.88],
    10: [0.91, 0.80, 0.72, 0.87],
}


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_intervals_and_p_values_match_scipy(level):
    result = paired_comparison(observations(THREE), [PATIENCE], "max", level=level)
    table = result.table

    assert result.paired and result.best == (5,)
    assert list(table.columns) == PAIRED_COLUMNS
    assert list(table.index) == [3, 5, 10] and table.index.name == PATIENCE
    best = np.array(THREE[5])
    for patience, values in THREE.items():
        row = table.loc[patience]
        assert (row["value_ci_low"], row["value_ci_high"]) == pytest.approx(t_interval(values, level))
        assert row["paired_trials"] == 4
        diffs = np.array(values) - best
        assert row["diff_vs_best"] == pytest.approx(diffs.mean(), abs=1e-12)
        if patience == 5:
            assert (row["diff_ci_low"], row["diff_ci_high"]) == (0.0, 0.0)
            assert math.isnan(row["p_value"])
            assert not row["distinguishable"]  # bool(pd.NA) raises, so this also rules out NA
        else:
            assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx(t_interval(diffs, level))
            assert row["p_value"] == pytest.approx(stats.ttest_rel(values, best).pvalue)
    # Each p is 2x-ed by Holm (two comparisons).
    alpha = 1 - level
    p = table["p_value"].drop(5)
    assert list(table["distinguishable"].drop(5)) == list(_holm(p.to_numpy()) < alpha)


def test_column_dtypes():
    table = paired_comparison(observations(THREE), [PATIENCE], "max").table
    assert str(table["paired_trials"].dtype) == "Int64"
    assert str(table["distinguishable"].dtype) == "boolean"
    assert str(table["pareto"].dtype) == "boolean"
    assert all(table[c].dtype == float for c in ["value_ci_low", "diff_vs_best", "p_value"])


def test_holm_on_the_textbook_example():
    # Holm (1979) as on Wikipedia: at alpha 0.05 only the 0.005 and 0.01 hypotheses are rejected.
    adjusted = _holm(np.array([0.01, 0.04, 0.03, 0.005]))
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert list(adjusted < 0.05) == [True, False, False, True]
    # Bonferroni would not reject 0.015 (x4 = 0.06); Holm's step down does (x3 = 0.045).
    assert _holm(np.array([0.001, 0.015, 0.5, 0.9]))[1] == pytest.approx(0.045)
    assert len(_holm(np.array([]))) == 0


def test_distinguishable_uses_holm_not_the_raw_p_value():
    best = np.array([0.80, 0.70, 0.90, 0.75, 0.85])
    offsets = {
        1: [-0.05, -0.06, -0.04, -0.055, -0.045],
        2: [-0.02, -0.03, -0.01, -0.025, -0.015],
        3: [-0.03, 0.0, -0.04, -0.01, -0.02],
        4: [-0.01, 0.01, -0.03, 0.0, -0.02],
    }
    cells = {0: list(best), **{k: list(best + np.array(d)) for k, d in offsets.items()}}
    table = paired_comparison(observations(cells), [PATIENCE], "max").table

    raw = table["p_value"]
    assert raw[3] < 0.05 < 2 * raw[3]  # significant alone, not once adjusted (x2 as third smallest)
    assert list(table["distinguishable"]) == [False, True, True, False, False]


def test_all_differences_zero_gives_p_one_and_ties_go_to_the_first_key():
    cells = {3: [0.9, 0.8, 0.7], 5: [0.9, 0.8, 0.7], 10: [0.5, 0.6, 0.4]}
    result = paired_comparison(observations(cells), [PATIENCE], "max")
    assert result.best == (3,)
    row = result.table.loc[5]
    assert row["p_value"] == 1.0
    assert row["diff_vs_best"] == 0.0
    assert not row["distinguishable"]  # bool(pd.NA) raises, so this also rules out NA


@pytest.mark.parametrize(
    ("best", "worse"),
    [
        ([1.0, 0.75, 0.5], [0.75, 0.5, 0.25]),  # exactly 0.25 below seed for seed
        ([0.91, 0.81, 0.71], [0.90, 0.80, 0.70]),  # 0.01 below, the same float each time
        # 0.1 below but only up to rounding (spread 3e-17): scipy warns of catastrophic cancellation here.
        ([0.3, 0.7, 0.1, 0.5], [0.2, 0.6, 0.0, 0.4]),
    ],
)
def test_constant_non_zero_differences_give_p_zero(best, worse):
    table = paired_comparison(observations({3: best, 5: worse}), [PATIENCE], "max").table
    assert table.loc[5, "p_value"] == 0.0
    assert table.loc[5, "distinguishable"]
    assert table.loc[5, "diff_vs_best"] == pytest.approx(worse[0] - best[0])


def test_pareto_front_with_a_tie():
    # (value, epochs): A and B tie on both, C trades value for epochs, D is dominated by A,
    # E has C's epochs but a worse value, F has no usable value.
    cells = {
        1: [0.90, 0.90],  # A
        2: [0.90, 0.90],  # B
        3: [0.80, 0.80],  # C
        4: [0.85, 0.85],  # D
        5: [0.70, 0.70],  # E
        6: [math.nan, math.nan],  # F
    }
    epochs = {1: 10, 2: 10, 3: 5, 4: 12, 5: 5, 6: 1}
    table = paired_comparison(observations(cells, epochs), [PATIENCE], "max").table
    assert list(table["pareto"]) == [True, True, True, False, False, pd.NA]

    # In "min" mode lower values are better: E (lowest value, fewest epochs) dominates everyone.
    table = paired_comparison(observations(cells, epochs), [PATIENCE], "min").table
    assert list(table["pareto"]) == [False, False, False, False, True, pd.NA]


def test_mode_min_picks_the_lowest_mean():
    losses = {3: [0.30, 0.40, 0.35, 0.50], 5: [0.25, 0.41, 0.30, 0.45], 10: [0.33, 0.44, 0.36, 0.49]}
    # A cell with a single unit cannot be the best, however good its value.
    losses[20] = [0.01]
    result = paired_comparison(observations(losses), [PATIENCE], "min")
    assert result.best == (5,)
    assert result.table.loc[20, "paired_trials"] == 1
    table = result.table
    for patience in (3, 10):
        diffs = np.array(losses[patience]) - np.array(losses[5])
        assert table.loc[patience, "diff_vs_best"] == pytest.approx(diffs.mean())
        assert table.loc[patience, "diff_vs_best"] > 0
        assert table.loc[patience, "p_value"] == pytest.approx(stats.ttest_rel(losses[patience], losses[5]).pvalue)


def test_a_unit_seen_twice_in_a_cell_is_averaged_first():
    plain = observations(THREE, {3: 10, 5: 20, 10: 30})
    # Patience 3 saw seed 0 twice more: 0.80 and 1.00 average to its 0.90, epochs 4 and 16 to its 10.
    extra = pd.DataFrame(
        [
            {PATIENCE: 3, "unit": "mlp-32/seed0", "value": 0.80, "epochs_run": 4},
            {PATIENCE: 3, "unit": "mlp-32/seed0", "value": 1.00, "epochs_run": 16},
        ]
    )
    plain.loc[0, "value"] = 0.90
    doubled = pd.concat([plain.drop(index=0), extra], ignore_index=True)

    expected = paired_comparison(plain, [PATIENCE], "max")
    result = paired_comparison(doubled, [PATIENCE], "max")
    assert result.best == expected.best
    assert result.table.loc[3, "paired_trials"] == 4  # units, not rows
    pd.testing.assert_frame_equal(result.table, expected.table)


def test_unpaired_design_is_all_na():
    # Every unit ran in one cell only.
    frame = pd.DataFrame(
        [
            {PATIENCE: p, "unit": f"mlp-{p}/seed{s}", "value": 0.8 + 0.01 * s, "epochs_run": 10}
            for p in (3, 5, 10)
            for s in range(3)
        ]
    )
    result = paired_comparison(frame, [PATIENCE], "max")
    assert result.paired is False and result.best is None
    assert list(result.table.index) == [3, 5, 10]
    assert list(result.table.columns) == PAIRED_COLUMNS
    assert result.table.isna().all().all()
    assert str(result.table["paired_trials"].dtype) == "Int64"


def test_sharing_a_single_unit_is_not_paired():
    cells = {3: [0.9, 0.8], 5: [0.7, 0.6]}
    frame = observations(cells)
    frame.loc[frame[PATIENCE].eq(5) & frame["unit"].str.endswith("seed1"), "unit"] = "other/seed1"
    assert paired_comparison(frame, [PATIENCE], "max").paired is False


def test_rows_without_a_unit_or_a_finite_value_are_ignored():
    clean = observations(THREE)
    noise = pd.DataFrame(
        [
            # Would make patience 3 the best if counted.
            {PATIENCE: 3, "unit": None, "value": 5.0, "epochs_run": 1},
            {PATIENCE: 3, "unit": math.nan, "value": 5.0, "epochs_run": 1},
            {PATIENCE: 3, "unit": "mlp-32/seed0", "value": math.inf, "epochs_run": 1},
            {PATIENCE: 10, "unit": "mlp-32/seed1", "value": math.nan, "epochs_run": 1},
            # A cell with nothing usable: present in the table, all NA.
            {PATIENCE: 7, "unit": None, "value": 0.99, "epochs_run": 3},
        ]
    )
    result = paired_comparison(pd.concat([clean, noise], ignore_index=True), [PATIENCE], "max")
    expected = paired_comparison(clean, [PATIENCE], "max")

    assert result.best == expected.best == (5,)
    assert list(result.table.index) == [3, 5, 7, 10]
    assert result.table.loc[7].isna().all()
    pd.testing.assert_frame_equal(result.table.drop(index=7), expected.table)


def test_a_cell_sharing_no_units_with_the_best_has_zero_paired_trials():
    frame = pd.concat(
        [
            observations(THREE),
            pd.DataFrame([{PATIENCE: 20, "unit": "cnn/seed9", "value": 0.5, "epochs_run": 3}]),
        ],
        ignore_index=True,
    )
    row = paired_comparison(frame, [PATIENCE], "max").table.loc[20]
    assert row["paired_trials"] == 0
    assert math.isnan(row["diff_vs_best"]) and math.isnan(row["p_value"])
    assert row["distinguishable"] is pd.NA
    assert row["pareto"]  # fewest epochs


def test_several_keys_give_a_sorted_multi_index_and_a_tuple_best():
    rows = [
        {PATIENCE: p, FACTOR: f, "unit": f"mlp/seed{s}", "value": base + 0.01 * s, "epochs_run": p}
        for (p, f, base) in [(10, 0.5, 0.80), (3, 0.5, 0.90), (3, 0.1, 0.70), (10, 0.1, 0.85)]
        for s in range(3)
    ]
    result = paired_comparison(pd.DataFrame(rows), [PATIENCE, FACTOR], "max")
    assert isinstance(result.table.index, pd.MultiIndex)
    assert list(result.table.index.names) == [PATIENCE, FACTOR]
    assert list(result.table.index) == [(3, 0.1), (3, 0.5), (10, 0.1), (10, 0.5)]
    assert result.best == (3, 0.5)
    assert type(result.best[0]) is int
    assert result.table.loc[result.best, "diff_vs_best"] == 0.0


@pytest.mark.parametrize("mode", ["maximize", "MAX", ""])
def test_bad_mode_raises(mode):
    with pytest.raises(ValueError, match="mode="):
        paired_comparison(observations(THREE), [PATIENCE], mode)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, math.nan])
def test_bad_level_raises(level):
    with pytest.raises(ValueError, match="level="):
        paired_comparison(observations(THREE), [PATIENCE], "max", level=level)
