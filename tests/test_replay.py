"""The EarlyStopping replay: Keras 3's rules on scripted curves, the censoring rules, and real Keras fits."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

import sweeper as sw
from sweeper.callbacks._early_stopping import early_stopping_settings
from sweeper.reports._html import render_html
from sweeper.reports._replay import (
    NO_STOP,
    RECORDED_COLUMNS,
    REPLAY_COLUMNS,
    SUMMARY_COLUMNS,
    Settings,
    running_best_epoch,
    stop_epochs,
)
from sweeper.reports._replay_tables import replay_tables
from sweeper.reports._report import Report
from sweeper.reports._settings import settings_frame


def replayed_stop(curve, mode="min", patience=0, min_delta=0.0, baseline=None, start_from_epoch=0) -> int | None:
    """Where the replay stops one curve, or None."""
    settings = Settings.of(
        0, patience, min_delta, np.nan if baseline is None else baseline, start_from_epoch, mode == "max"
    )
    stop = int(stop_epochs(np.array([curve], dtype=np.float32), [len(curve)], settings)[0])
    return None if stop == NO_STOP else stop


def keras_stop(curve, mode="min", patience=0, min_delta=0.0, baseline=None, start_from_epoch=0) -> int | None:
    """Where Keras's own EarlyStopping stops the same logs, fed epoch by epoch as fit feeds them."""
    import keras

    callback = keras.callbacks.EarlyStopping(
        monitor="m",
        mode=mode,
        patience=patience,
        min_delta=min_delta,
        baseline=baseline,
        start_from_epoch=start_from_epoch,
    )
    model = types.SimpleNamespace(stop_training=False)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(curve):
        callback.on_epoch_end(epoch, {"m": float(np.float32(value))})  # logs hold floats of float32 metrics
        if model.stop_training:
            return epoch
    return None


# -- Keras's rules, one edge case at a time (expected values worked out by hand from Keras's source) --


def test_patience_0_stops_at_the_first_epoch_that_does_not_improve():
    assert replayed_stop([1.0, 0.9, 0.95, 0.8]) == 2
    assert replayed_stop([1.0, 1.0]) == 1  # a tie is no improvement


def test_patience_counts_epochs_without_improvement():
    curve = [1.0, 0.9, 0.95, 0.97, 0.96, 0.5]
    # `wait` grows before the check, so patience 0 and 1 both stop at the first epoch without improvement.
    assert [replayed_stop(curve, patience=p) for p in range(5)] == [2, 2, 3, 4, None]


def test_mode_min_and_max_read_the_same_curve_in_opposite_directions():
    rising = [0.1, 0.2, 0.3, 0.3]
    assert replayed_stop(rising, mode="max") == 3
    assert replayed_stop(rising, mode="min") == 1


def test_ties_within_min_delta_are_no_improvement_in_min_mode():
    curve = [1.0, 0.96, 0.93, 0.90, 0.5]
    assert replayed_stop(curve, patience=1) is None
    assert replayed_stop(curve, patience=1, min_delta=0.05) == 1  # 0.96 + 0.05 is not below 1.0
    assert replayed_stop(curve, patience=1, min_delta=-0.05) == 1  # Keras takes abs(min_delta)


def test_min_delta_compares_in_float32_as_kerass_ops_do():
    # float32(0.6) - 0.1 is 0.50000002 in float64, which beats 0.5; rounded to float32, as Keras's
    # ops.greater rounds it, it is 0.5, which does not. Keras stops here; a float64 replay would not.
    curve = [0.5, 0.6]
    assert replayed_stop(curve, mode="max", min_delta=0.1) == 1 == keras_stop(curve, mode="max", min_delta=0.1)


def test_a_baseline_never_beaten_never_resets_the_wait():
    flat = [0.5, 0.6, 0.6, 0.6, 0.6]
    assert replayed_stop(flat, mode="max", patience=2) == 3
    # Epoch 0 and 1 improve (no stop on an improving epoch) but do not beat 0.9: the wait is 3 at epoch 2.
    assert replayed_stop(flat, mode="max", patience=2, baseline=0.9) == 2
    # A curve that improves every epoch never stops, baseline or not: Keras checks patience only on others.
    assert replayed_stop([0.5, 0.6, 0.7, 0.8], mode="max", patience=0, baseline=0.9) is None


def test_beating_the_baseline_resets_the_wait():
    curve = [0.5, 0.95, 0.94, 0.94, 0.94]
    assert replayed_stop(curve, mode="max", patience=2, baseline=0.9) == 3
    assert replayed_stop(curve, mode="max", patience=2, baseline=0.99) == 2


def test_start_from_epoch_skips_the_warm_up_and_may_start_past_the_stop():
    flat = [1.0] * 6
    assert replayed_stop(flat, patience=1) == 1
    assert replayed_stop(flat, patience=1, start_from_epoch=3) == 4
    assert replayed_stop(flat, patience=1, start_from_epoch=5) is None  # its first watched epoch improves
    assert replayed_stop(flat, patience=1, start_from_epoch=10) is None


def test_the_first_watched_epoch_always_improves_so_the_epoch_0_guard_never_fires():
    # Keras's `epoch > 0` guard is unreachable in a fresh fit: at epoch 0 `best` is None, an improvement.
    # Even a NaN there becomes `best`, and nothing compares above NaN afterwards.
    assert replayed_stop([np.nan, 0.5, 0.4]) == 1
    rng = np.random.default_rng(0)
    curves = rng.choice([0.1, 0.2, np.nan], size=(200, 6)).astype(np.float32)
    settings = Settings.of(np.arange(200), 0, rng.choice([0.0, 0.1], 200), np.nan, 0, rng.random(200) < 0.5)
    assert (stop_epochs(curves, np.full(200, 6), settings) != 0).all()


def test_nan_values_never_improve():
    assert replayed_stop([1.0, np.nan, 0.5], patience=1) == 1
    assert replayed_stop([1.0, np.nan, 0.5], patience=2) is None


def test_the_best_epoch_so_far_is_the_first_to_reach_the_best_and_skips_epochs_that_do_not_count():
    values = np.array([[np.nan, 0.5, 0.7, 0.7, 0.6, 0.9], [0.3, 0.2, 0.2, 0.4, np.nan, 0.1]])
    assert running_best_epoch(values, maximize=True).tolist() == [[-1, 1, 2, 2, 2, 5], [0, 0, 0, 3, 3, 3]]
    assert running_best_epoch(values, maximize=False).tolist() == [[-1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 5]]


def test_the_replay_agrees_with_kerass_own_callback_on_random_logs():
    rng = np.random.default_rng(1)
    for _ in range(150):
        # Few distinct values, so ties, min_delta ties and baselines between them are common.
        curve = rng.choice([0.3, 0.5, 0.6, 0.7, 0.71, np.nan], p=[0.2, 0.2, 0.2, 0.2, 0.15, 0.05], size=10).tolist()
        setting = {
            "mode": str(rng.choice(["min", "max"])),
            "patience": int(rng.integers(0, 4)),
            "min_delta": float(rng.choice([0.0, 0.01, 0.1, 0.2])),
            "baseline": [None, 0.5, 0.65][int(rng.integers(0, 3))],
            "start_from_epoch": int(rng.choice([0, 0, 2, 5])),
        }
        assert replayed_stop(curve, **setting) == keras_stop(curve, **setting), (curve, setting)


# -- The replay tables and the censoring rules --

STUDY_MONITOR, ES_MONITOR = "val_accuracy", "val_loss"
# Each trial: its stop reason, its own patience, its val_loss curve (the EarlyStopping's) and val_accuracy.
SCRIPTED = {
    # Ran all 8 epochs without stopping: "does not stop" is exact.
    0: ("max_epochs", 5, [1.0, 0.8, 0.7, 0.75, 0.6, 0.65, 0.66, 0.64], [0.1, 0.2, 0.3, 0.3, 0.5, 0.4, 0.45, 0.5]),
    # Early-stopped at epoch 4 with patience 2: a larger patience would have run on, unseen.
    1: ("early_stopping", 2, [1.0, 0.8, 0.7, 0.9, 0.85], [0.2, 0.4, 0.5, 0.35, 0.3]),
    # Pruned at epoch 2: replayed up to it.
    2: ("pruned", 3, [1.0, 1.1, 1.2], [0.1, 0.05, 0.02]),
    # Diverged at epoch 3: that epoch's values count for no value.
    3: ("diverged", 3, [1.0, 0.9, 0.95, np.nan], [0.3, 0.6, 0.4, 0.9]),
}
MAX_EPOCHS = 8


def scripted_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    epochs = pd.DataFrame(
        [
            {"trial": t, "epoch": e, ES_MONITOR: loss, STUDY_MONITOR: accuracy, "loss": loss}
            for t, (_, _, losses, accuracies) in SCRIPTED.items()
            for e, (loss, accuracy) in enumerate(zip(losses, accuracies, strict=True))
        ]
    )
    own = {0: (0.5, 4), 1: (0.5, 2), 2: (0.1, 0), 3: (0.6, 1)}  # each trial's value and best epoch, as recorded
    trials = pd.DataFrame(
        [
            {
                "trial": t,
                "state": {"pruned": "PRUNED", "diverged": "FAIL"}.get(reason, "COMPLETE"),
                "value": own[t][0],
                "best_epoch": own[t][1],
                "epochs_run": len(losses),
                "stop_reason": reason,
                "params_EarlyStopping.patience": patience,
            }
            for t, (reason, patience, losses, _) in SCRIPTED.items()
        ]
    )
    recorded = pd.DataFrame(
        [
            {
                "trial": t,
                "monitor": ES_MONITOR,
                "mode": "min",
                "patience": patience,
                "min_delta": 0.0,
                "baseline": None,
                "start_from_epoch": 0,
                "restore_best_weights": False,
                "max_epochs": MAX_EPOCHS,
            }
            for t, (_, patience, _, _) in SCRIPTED.items()
        ],
        columns=RECORDED_COLUMNS,
    )
    return trials, epochs, recorded


@pytest.fixture(scope="module")
def scripted():
    trials, epochs, recorded = scripted_frames()
    return replay_tables(trials, epochs, recorded, STUDY_MONITOR, "max")


def row(table: pd.DataFrame, trial: int, patience: int) -> pd.Series:
    (index,) = table.index[(table["trial"] == trial) & (table["patience"] == patience)]
    return table.loc[index]


def test_the_default_grid_is_every_patience_up_to_the_largest_used(scripted):
    table, summary = scripted
    assert list(table.columns) == REPLAY_COLUMNS and list(summary.columns) == SUMMARY_COLUMNS
    assert sorted(table["patience"].unique()) == list(range(6))
    assert len(table) == 4 * 6 and len(summary) == 6


def test_a_trial_that_ran_all_its_epochs_is_exact_even_where_a_setting_never_stops(scripted):
    table, _ = scripted
    # val_loss improves up to epoch 2, not at 3, then at 4 (0.6); the wait is 3 at epoch 7, the last.
    assert [row(table, 0, p)["stop_epoch"] for p in range(4)] == [3, 3, 6, 7]
    assert row(table, 0, 3)["epochs_run"] == MAX_EPOCHS and row(table, 0, 3)["epochs_saved"] == 0
    for patience in (4, 5):
        never = row(table, 0, patience)
        assert not never["censored"] and pd.isna(never["stop_epoch"])
        assert never["epochs_run"] == MAX_EPOCHS and never["epochs_saved"] == 0
        assert never["value"] == 0.5 and never["value_change"] == 0
    early = row(table, 0, 0)
    assert early["epochs_run"] == 4 and early["epochs_saved"] == 4 and early["value"] == 0.3
    assert early["value_change"] == pytest.approx(-0.2)


def test_an_early_stopped_trial_is_censored_for_a_later_stopping_setting(scripted):
    table, _ = scripted
    own = row(table, 1, 2)
    assert not own["censored"] and own["stop_epoch"] == 4 and own["epochs_run"] == 5 and own["value_change"] == 0
    assert row(table, 1, 1)["stop_epoch"] == 3 and row(table, 1, 1)["value"] == 0.5  # 1 epoch earlier, same value
    assert row(table, 1, 0)["stop_epoch"] == 3 and row(table, 1, 0)["epochs_saved"] == 1
    for patience in (3, 4, 5):
        later = row(table, 1, patience)
        assert later["censored"] and pd.isna(later["value"]) and pd.isna(later["stop_epoch"])
        assert later["epochs_run"] == 5 and pd.isna(later["epochs_saved"])  # at least the trial's 5


def test_a_pruned_trial_replays_up_to_its_pruned_epoch(scripted):
    table, _ = scripted
    assert row(table, 2, 0)["stop_epoch"] == 1 and not row(table, 2, 0)["censored"]
    assert row(table, 2, 2)["stop_epoch"] == 2 and row(table, 2, 2)["value"] == 0.1
    assert row(table, 2, 3)["censored"] and row(table, 2, 3)["epochs_run"] == 3


def test_a_diverged_trial_replays_what_was_logged_and_its_diverged_epoch_counts_for_no_value(scripted):
    table, _ = scripted
    assert row(table, 3, 0)["stop_epoch"] == 2 and row(table, 3, 0)["value"] == 0.6
    # Stopping at the NaN epoch itself (wait 2 at epoch 3): its val_accuracy 0.9 does not count.
    assert row(table, 3, 2)["stop_epoch"] == 3 and row(table, 3, 2)["value"] == 0.6
    assert row(table, 3, 3)["censored"]


def test_the_summary_counts_exact_and_censored_trials_and_the_epochs_saved(scripted):
    table, summary = scripted
    by_patience = summary.set_index("patience")
    assert by_patience.loc[5, "trials"] == 1 and by_patience.loc[5, "censored"] == 3  # only trial 0 is exact
    assert by_patience.loc[0, "trials"] == 4 and by_patience.loc[0, "censored"] == 0
    assert by_patience.loc[0, "epochs_saved_total"] == 4 + 1 + 1 + 1
    assert by_patience.loc[0, "epochs_saved_mean"] == pytest.approx(7 / 4)
    assert by_patience.loc[0, "unchanged_share"] == pytest.approx(3 / 4)  # only trial 0 loses value
    zero = table[table["patience"] == 0]
    assert by_patience.loc[0, "value_change_mean"] == pytest.approx(zero["value_change"].mean())
    assert by_patience.loc[0, "unchanged_share"] == pytest.approx((zero["value_change"] == 0).mean())


def test_any_grid_replays_every_combination(scripted):
    trials, epochs, recorded = scripted_frames()
    report = Report("demo", STUDY_MONITOR, "max", trials, epochs, settings_frame(trials, "max"), {}, recorded)
    table, summary = sw.replay_early_stopping(report, patience=[1, 2], min_delta=[0.0, 0.2], baseline=[None, 0.5])
    assert len(table) == 4 * 8 and len(summary) == 8
    # min_delta 0.2: no val_loss epoch of trial 0 improves on 1.0 by that much.
    assert row(table[table["min_delta"].eq(0.2) & table["baseline"].isna()], 0, 1)["stop_epoch"] == 1
    with pytest.raises(ValueError, match="patience values must be integers >= 0"):
        sw.replay_early_stopping(report, patience=[-1])


def test_a_study_without_a_recorded_early_stopping_has_nothing_to_replay():
    trials, epochs, _ = scripted_frames()
    table, summary = replay_tables(trials, epochs, pd.DataFrame(columns=RECORDED_COLUMNS), STUDY_MONITOR, "max")
    assert table.empty and summary.empty and list(table.columns) == REPLAY_COLUMNS
    report = Report("demo", STUDY_MONITOR, "max", trials, epochs, settings_frame(trials, "max"), {})
    assert report.replay.empty and sw.replay_early_stopping(report).table.empty
    assert "Nothing to replay" in render_html(report)


def test_the_html_report_shows_the_replay_figure_and_summary(scripted):
    trials, epochs, recorded = scripted_frames()
    table, summary = scripted
    report = Report(
        "demo", STUDY_MONITOR, "max", trials, epochs, settings_frame(trials, "max"), {}, recorded, table, summary
    )
    section = render_html(report).split("<h2>EarlyStopping replay</h2>")[1].split("<h2>")[0]
    assert '<img src="data:image/png;base64,' in section and "censored" in section
    assert section.count("<tr") == 1 + len(summary)


# -- Against Keras itself: real seeded fits --

EPOCHS = 16


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return (x[:600], y[:600]), (x[1400:], y[1400:])


def fit(digits, **early_stopping):
    """One seeded fit of a tiny MLP with Keras's EarlyStopping; its history and the fitted callback."""
    import keras

    (x, y), validation = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(keras.optimizers.Adam(3e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    callback = keras.callbacks.EarlyStopping(**early_stopping)
    history = model.fit(
        x,
        y,
        batch_size=150,
        epochs=EPOCHS,
        validation_data=validation,
        validation_batch_size=len(validation[0]),
        callbacks=[callback],
        verbose=0,
    )
    return history.history, callback


@pytest.fixture(scope="module")
def long_run(digits):
    history, callback = fit(digits, monitor="val_loss", patience=EPOCHS)
    assert callback.stopped_epoch == 0 and len(history["val_loss"]) == EPOCHS  # no early stop fired
    return history


# On the long run's curve, val_loss falls to epoch 9 and then rises; val_accuracy peaks at epoch 9 too.
REAL_SETTINGS = [
    {"monitor": "val_loss", "patience": 0},
    {"monitor": "val_loss", "patience": 2},
    {"monitor": "val_accuracy", "patience": 1},  # mode auto: Keras resolves max from the metric
    {"monitor": "val_loss", "patience": 1, "min_delta": 0.05},  # stops while val_loss still falls, at a lower value
    {"monitor": "val_accuracy", "patience": 2, "baseline": 0.99},  # never beaten: the wait never resets
    {"monitor": "val_loss", "patience": 0, "start_from_epoch": 12},  # watches from past the minimum
]


@pytest.mark.parametrize("setting", REAL_SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_the_replay_of_a_long_run_matches_kerass_own_early_stopped_run(digits, long_run, setting):
    history, callback = fit(digits, **setting)
    epochs_run = len(history["val_loss"])
    assert callback.stopped_epoch > 0 and epochs_run < EPOCHS, "pick a setting that stops early"
    # Deterministic fits: the stopped run is the long run's first epochs, value for value. If this
    # failed, the replay could not be exact; the difference would show here, epoch by epoch.
    for name in ("val_loss", "val_accuracy", "loss"):
        assert history[name] == long_run[name][:epochs_run], name

    long = pd.DataFrame({"trial": 0, "epoch": range(EPOCHS), **long_run})
    trials = pd.DataFrame(
        [{"trial": 0, "value": max(long_run["val_accuracy"]), "epochs_run": EPOCHS, "stop_reason": "max_epochs"}]
    )
    # The real run's settings, as sweeper's runner records them from the fitted callback.
    recorded = pd.DataFrame([{"trial": 0, **early_stopping_settings(callback), "max_epochs": EPOCHS}])
    table, _ = replay_tables(trials, long, recorded, "val_accuracy", "max", {"patience": [int(callback.patience)]})
    (replayed,) = table.itertuples()
    assert not replayed.censored
    assert replayed.stop_epoch == callback.stopped_epoch and replayed.epochs_run == epochs_run
    assert replayed.value == max(history["val_accuracy"])  # the trial's value: best val_accuracy up to the stop
    assert replayed.best_epoch == history["val_accuracy"].index(max(history["val_accuracy"]))  # its first best epoch
    # Without its min_delta, baseline or start_from_epoch, the setting stops elsewhere: the parameter mattered.
    plain = {"patience": [int(callback.patience)], "min_delta": [0.0], "baseline": [None], "start_from_epoch": [0]}
    (without,) = replay_tables(trials, long, recorded, "val_accuracy", "max", plain).table.itertuples()
    assert (without.stop_epoch != replayed.stop_epoch) == bool(set(setting) - {"monitor", "patience"})
