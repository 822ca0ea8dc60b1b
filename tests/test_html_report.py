"""report.html and its figures, from hand-built tables: no training, no TensorBoard files."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from sweeper.reports import figures
from sweeper.reports._html import render_html
from sweeper.reports._report import Report
from sweeper.reports._settings import settings_frame

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG = '<img src="data:image/png;base64,'
PATIENCE, FACTOR = "params_EarlyStopping.patience", "params_ReduceLROnPlateau.factor"
MALICIOUS = "<script>alert('x')</script>"


def trial_row(
    trial: int, state: str, value: float | None, best_epoch: int | None, epochs_run: int | None, **params: object
) -> dict:
    stop = {"COMPLETE": "early_stopping", "PRUNED": "pruned", "FAIL": "error", "RUNNING": None}[state]
    return {
        "trial": trial,
        "state": state,
        "value": value,
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
        "stop_reason": stop,
        "lr_initial": 1e-3,
        "lr_final": 1e-4,
        "lr_reductions": 1,
        "duration_s": 3.0,
        "checkpoint": f"/runs/demo/trials/{trial}/checkpoints/best.keras",
        "logdir": f"/runs/demo/trials/{trial}/tb",
        **{f"params_{name}": value for name, value in params.items()},
        "repeat": 0,
        "seed": 0,
        "error": None,
    }


def callback_trials() -> pd.DataFrame:
    settings = {PATIENCE.removeprefix("params_"): 3, FACTOR.removeprefix("params_"): 0.5, "units": 32}
    return pd.DataFrame(
        [
            trial_row(0, "COMPLETE", 0.90, 4, 8, **settings),
            trial_row(1, "COMPLETE", 0.95, 6, 10, **{**settings, "EarlyStopping.patience": 10}),
            trial_row(2, "PRUNED", 0.50, 1, 3, **{**settings, "ReduceLROnPlateau.factor": 0.1}),
            trial_row(3, "COMPLETE", 0.92, 5, 9, **{**settings, "ReduceLROnPlateau.factor": 0.1}),
        ]
    )


def epochs_for(trials: pd.DataFrame, monitor: str = "val_accuracy") -> pd.DataFrame:
    rows = [
        {"trial": t, "epoch": e, monitor: v * (e + 1) / n, "loss": 1.0 / (e + 1)}
        for t, v, n in trials[["trial", "value", "epochs_run"]].dropna().itertuples(index=False)
        for e in range(int(n))
    ]
    return pd.DataFrame(rows)


def make_report(
    trials: pd.DataFrame,
    epochs: pd.DataFrame | None = None,
    mode: str = "max",
    importances: dict[str, float] | None = None,
    name: str = "demo",
) -> Report:
    return Report(
        study_name=name,
        monitor="val_accuracy",
        mode=mode,
        trials=trials,
        epochs=epochs_for(trials) if epochs is None else epochs,
        settings=settings_frame(trials, mode),
        importances={"units": 0.7, "EarlyStopping.patience": 0.3} if importances is None else importances,
    )


def embedded_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)]


@pytest.fixture(scope="module")
def full_html() -> str:
    return render_html(make_report(callback_trials()))


def test_all_four_figures_are_embedded_as_pngs(full_html):
    pngs = embedded_pngs(full_html)
    assert full_html.count(IMG) == len(pngs) == 4
    assert all(png.startswith(PNG_SIGNATURE) for png in pngs)
    assert "http" not in full_html  # self-contained: nothing fetched from the network


def test_best_trial_number_value_and_checkpoint_are_shown(full_html):
    best = full_html.split("<h2>Best trial</h2>")[1].split("<h2>")[0]
    assert "#1" in best and "0.95" in best
    assert "/runs/demo/trials/1/checkpoints/best.keras" in best
    assert "COMPLETE 3 · PRUNED 1" in full_html


def test_user_controlled_text_is_escaped():
    trials = callback_trials().assign(params_units=[32, MALICIOUS, 32, 32])
    failed = trial_row(4, "FAIL", None, None, None, units=64)
    failed["error"] = f"Traceback (most recent call last):\nValueError: {MALICIOUS}"
    trials = pd.concat([trials, pd.DataFrame([failed])], ignore_index=True)
    html = render_html(make_report(trials, name="<b>demo</b>"))
    assert "<script" not in html.lower() and "<b>demo" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;demo&lt;/b&gt;" in html
    assert html.count("<details>") == 1 and "ValueError" in html.split("<details>")[1]


def test_all_failed_study_without_epochs_renders_notes_and_tracebacks():
    trials = pd.DataFrame(
        [
            {**trial_row(i, "FAIL", None, None, None, units=32), "error": f"Traceback\nRuntimeError: boom {i}"}
            for i in range(3)
        ]
    )
    html = render_html(make_report(trials, epochs=pd.DataFrame(columns=["trial", "epoch"]), importances={}))
    assert html.count(IMG) == 1  # only the learning curves' "no TensorBoard data" figure
    assert "No trial completed" in html
    assert html.count("<details>") == 3 and "RuntimeError: boom 2" in html


def test_without_callback_settings_the_heat_map_is_replaced_by_a_note():
    trials = callback_trials().drop(columns=[PATIENCE, FACTOR])
    html = render_html(make_report(trials))
    assert html.count(IMG) == 3
    assert "Callback settings heat map: not available" in html


def test_running_trials_with_nan_values_render():
    trials = pd.concat(
        [callback_trials(), pd.DataFrame([trial_row(4, "RUNNING", np.nan, np.nan, np.nan, units=8)])], ignore_index=True
    )
    html = render_html(make_report(trials))
    assert "1 trial(s) still running" in html and "RUNNING 1" in html


def test_learning_curves_mark_pruned_trials_where_they_were_cut():
    trials = callback_trials()
    figure = figures.learning_curves(trials, epochs_for(trials), "val_accuracy")
    ax = figure.axes[0]
    [pruned] = [line for line in ax.get_lines() if line.get_label() == figures.PRUNED_LABEL]
    assert pruned.get_marker() == "x" and list(pruned.get_xdata()) == [2]  # trial 2 ran 3 epochs
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert {"COMPLETE (3)", "PRUNED (1)", figures.PRUNED_LABEL, figures.BEST_EPOCH_LABEL} <= set(labels)


def test_learning_curves_without_the_monitor_say_so():
    figure = figures.learning_curves(callback_trials(), pd.DataFrame(columns=["trial", "epoch"]), "val_accuracy")
    assert [text.get_text() for text in figure.texts] == ["no TensorBoard data for val_accuracy"]


def test_heat_map_uses_patience_and_factor_and_brightens_the_better_values():
    figure = figures.patience_factor_heatmap(callback_trials(), "min")
    ax = figure.axes[0]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("EarlyStopping.patience", "ReduceLROnPlateau.factor")
    assert ax.images[0].get_cmap().name == "viridis_r"  # lower is better, so lower is brighter
    # callback_trials() holds one COMPLETE trial per cell: each shows its value, grey, not as a mean.
    assert "0.9\n1 trial:\nnot a mean" in [text.get_text() for text in ax.texts]
    assert np.ma.getmaskarray(ax.images[0].get_array()).all()


def test_heat_map_colours_the_means_of_two_or_more_trials_only():
    trials = callback_trials()
    twice = pd.concat([trials, trials.assign(trial=trials["trial"] + 10, value=trials["value"] + 0.02)])
    ax = figures.patience_factor_heatmap(twice, "max").axes[0]
    texts = [text.get_text() for text in ax.texts]
    assert "0.91\nn=2" in texts and not any("not a mean" in text for text in texts)
    assert not np.ma.getmaskarray(ax.images[0].get_array()).all()


def test_heat_map_falls_back_to_two_other_callback_params_or_none():
    other = callback_trials().rename(columns={FACTOR: "params_ReduceLROnPlateau.patience"})
    figure = figures.patience_factor_heatmap(other, "max")
    assert figure.axes[0].get_xlabel() == "ReduceLROnPlateau.patience"
    assert figures.patience_factor_heatmap(callback_trials().drop(columns=[FACTOR]), "max") is None


def test_value_vs_epochs_labels_each_setting_and_empty_importances_give_none():
    figure = figures.value_vs_epochs(callback_trials(), "max", "val_accuracy")
    annotations = {text.get_text() for text in figure.axes[0].texts}
    assert {"3 / 0.5", "10 / 0.5", "3 / 0.1", "best #1"} <= annotations
    assert figures.importances_bar({}) is None


def test_the_checkpoints_section_links_each_kept_checkpoint_and_says_what_deleting_the_rest_saved():
    trials = callback_trials()
    deleted = trials["trial"].isin([0, 2])
    trials["checkpoint_deleted"] = np.where(
        deleted, np.where(trials["state"] == "PRUNED", "pruned", "not among the 2 best"), None
    )
    trials.loc[deleted, "checkpoint"] = None
    trials["checkpoint_mb"] = np.where(deleted, 0.0, 1.5)
    trials["checkpoint_freed_mb"] = np.where(deleted, 1.5, 0.0)
    trials["tensorboard_mb"] = 0.25
    html = render_html(make_report(trials))
    section = html[html.index("<h2>Checkpoints</h2>") : html.index("<h2>Trials</h2>")]
    assert "2 checkpoint(s) kept; 2 deleted (1 not among the 2 best, 1 pruned), which freed 3.0 MB" in section
    assert "take 4.0 MB on disk" in section  # 2 × 1.5 MB of checkpoints + 4 × 0.25 MB of logs
    links = re.findall(r'<a href="(file://[^"]+)"><code>([^<]+)</code></a>', section)
    assert [path for _, path in links] == [
        "/runs/demo/trials/1/checkpoints/best.keras",
        "/runs/demo/trials/3/checkpoints/best.keras",
    ]
    assert links[0][0] == "file:///runs/demo/trials/1/checkpoints/best.keras"


def test_a_report_without_the_disk_columns_has_no_checkpoints_section(full_html):
    assert "<h2>Checkpoints</h2>" not in full_html
