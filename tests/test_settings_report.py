import math

import pandas as pd
import pytest

from sweeper.reports._settings import callback_setting_columns, settings_frame


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
