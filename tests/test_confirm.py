"""`sweeper confirm`: its plan from a finished study's trials, its bad input, and a real confirm run."""

from __future__ import annotations

import shutil

import optuna
import pandas as pd
import pytest
from conftest import sweep
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from sweeper._errors import StudyFileError
from sweeper.reports._build import _importances
from sweeper.search._confirm import SEED_ATTR, plan_confirm

MODEL = {"units": CategoricalDistribution([16, 32]), "lr": FloatDistribution(1e-4, 1e-1, log=True)}
CALLBACKS = {
    "EarlyStopping.patience": CategoricalDistribution([2, 5, 10]),
    "ReduceLROnPlateau.factor": CategoricalDistribution([0.2, 0.5]),
    "ReduceLROnPlateau.patience": IntDistribution(1, 3),
}


def finished(number: int, value: float | None, units: int, lr: float, state=optuna.trial.TrialState.COMPLETE, **cb):
    params = {"units": units, "lr": lr, "EarlyStopping.patience": 5, "ReduceLROnPlateau.factor": 0.5}
    params["ReduceLROnPlateau.patience"] = 2
    params.update(cb)
    trial = optuna.trial.create_trial(
        state=state, value=value, params=params, distributions={**MODEL, **CALLBACKS}, user_attrs={}
    )
    trial.number = number
    return trial


def study_trials() -> list:
    return [
        finished(0, 0.90, 16, 0.01),
        finished(1, 0.95, 32, 0.02, **{"EarlyStopping.patience": 2}),
        finished(2, 0.95, 32, 0.02, **{"ReduceLROnPlateau.factor": 0.2}),  # the same model as trial 1: one config
        finished(3, 0.99, 16, 0.03, state=optuna.trial.TrialState.PRUNED),  # pruned: not a candidate
        finished(4, 0.93, 16, 0.005),
    ]


def test_the_plan_crosses_the_best_distinct_models_with_the_trained_settings_and_seeds():
    plan = plan_confirm("digits", study_trials(), maximize=True, top=2, repeats=3)
    assert plan.name == "digits-confirm"
    assert plan.configs == ({"units": 32, "lr": 0.02}, {"units": 16, "lr": 0.005})  # best first, each once
    assert plan.grid == {"ReduceLROnPlateau.factor": [0.2, 0.5], "ReduceLROnPlateau.patience": [1, 2, 3]}
    assert plan.replayed == {"EarlyStopping.patience": [2, 5, 10]} and plan.fixed == {"EarlyStopping.patience": 10}
    assert len(plan.trials) == 2 * 6 * 3
    first, *_ = plan.trials
    assert first == (
        {"units": 32, "lr": 0.02, "ReduceLROnPlateau.factor": 0.2, "ReduceLROnPlateau.patience": 1,
         "EarlyStopping.patience": 10},
        {"repeat": 0, SEED_ATTR: 0, "config": 0},
    )  # fmt: skip
    # Repeat-major: a run cut short has covered every (model, cell) at seed 0 first.
    assert [attrs["repeat"] for _, attrs in plan.trials[:12]] == [0] * 12
    cells = {tuple(sorted(params.items())) for params, attrs in plan.trials if attrs[SEED_ATTR] == 2}
    assert len(cells) == 12


def test_a_minimised_monitor_ranks_the_lowest_first_and_top_is_capped_by_distinct_models():
    plan = plan_confirm("digits", study_trials(), maximize=False, top=10, repeats=1)
    assert [config["lr"] for config in plan.configs] == [0.01, 0.005, 0.02]


def test_a_study_searching_only_replayable_settings_trains_one_cell_per_model_and_seed():
    patience = {"EarlyStopping.patience": IntDistribution(2, 8, step=2)}
    trials = [optuna.trial.create_trial(value=0.9, params={"EarlyStopping.patience": 4}, distributions=patience)]
    plan = plan_confirm("s", trials, maximize=True, top=3, repeats=2)
    assert plan.grid == {} and plan.replayed == {"EarlyStopping.patience": [2, 4, 6, 8]}
    assert [params for params, _ in plan.trials] == [{"EarlyStopping.patience": 8}] * 2


@pytest.mark.parametrize(
    ("trials", "message"),
    [
        ([finished(0, None, 16, 0.01, state=optuna.trial.TrialState.FAIL)], "has no COMPLETE trial"),
        (
            [optuna.trial.create_trial(value=0.9, params={"units": 16}, distributions={"units": MODEL["units"]})],
            "searched no callback setting",
        ),
        (
            [
                optuna.trial.create_trial(
                    value=0.9,
                    params={"ReduceLROnPlateau.factor": 0.3},
                    distributions={"ReduceLROnPlateau.factor": FloatDistribution(0.1, 0.9)},
                )
            ],
            "ReduceLROnPlateau.factor over a continuous range",
        ),
    ],
)
def test_a_study_that_cannot_be_confirmed_is_one_clear_error(trials, message):
    with pytest.raises(StudyFileError, match=message) as raised:
        plan_confirm("s", trials, maximize=True, top=1, repeats=1)
    assert "Fix:" in str(raised.value)


@pytest.mark.parametrize(("option", "value"), [("--top", "0"), ("--repeats", "-1"), ("--jobs", "0")])
def test_options_that_are_not_positive_exit_2_naming_the_option(tmp_path, write_study, option, value):
    study_file = write_study("study = sw.Study(name='x', data=load_data, model=build_model)\n")
    result = sweep("confirm", str(study_file), option, value, cwd=tmp_path)
    assert result.exit_code == 2 and f"{option}={value}" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_study_that_never_ran_exits_2_and_says_to_run_it(tmp_path, write_study):
    study_file = write_study("study = sw.Study(name='never', data=load_data, model=build_model)\n")
    result = sweep("confirm", str(study_file), cwd=tmp_path)
    assert result.exit_code == 2 and "no study named 'never'" in result.output and "sweeper run" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def confirmed(swept, tmp_path_factory):
    """The e2e study (lr x EarlyStopping patience 2, 3, seeded) confirmed: its best model, 2 seeds."""
    root = tmp_path_factory.mktemp("confirm") / "copy"
    shutil.copytree(swept[0], root)
    result = sweep("confirm", "study.py", "--top", "1", "--repeats", "2", "--jobs", "1", cwd=root)
    return root, result


def test_confirm_runs_the_best_model_at_the_largest_patience_on_every_seed_without_pruning(confirmed):
    root, result = confirmed
    assert result.exit_code == 0, result.output
    assert "1 best model configuration(s) × no trained setting × 2 seed(s) = 2 trials" in result.output
    assert "EarlyStopping.patience trains at 3 and [2, 3] are read from the replay" in result.output
    trials = pd.read_csv(root / "reports" / "e2e-confirm" / "trials.csv")
    assert sorted(trials["seed"]) == [0, 1] and set(trials["state"]) == {"COMPLETE"}
    assert set(trials["params_lr"]) == {0.01} and set(trials["params_EarlyStopping.patience"]) == {3}
    for number in trials["trial"]:
        assert any((root / "runs" / "e2e-confirm" / "trials" / str(number) / "tensorboard").rglob("events.*"))
    # In the storage of the study it confirms, beside it.
    journal = str(root / "runs" / "e2e" / "journal.log")
    assert set(optuna.get_all_study_names(optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(journal)))) == {"e2e", "e2e-confirm"}  # fmt: skip


def test_confirm_trials_train_exactly_as_the_original_trials_of_the_same_model_and_seed(confirmed, swept):
    root, _ = confirmed
    original = swept[3]
    confirm = pd.read_csv(root / "reports" / "e2e-confirm" / "trials.csv")
    observations = pd.read_csv(root / "reports" / "e2e-confirm" / "observations.csv")
    seed0 = confirm[confirm["seed"] == 0].iloc[0]
    # Seed 0 is the original study's seed: its lr=1e-2 trials ran the same fit, with patience 3 and 2.
    for patience in (2, 3):
        runs = original[(original["params_lr"] == 0.01) & (original["params_EarlyStopping.patience"] == patience)]
        runs = runs[runs["state"] == "COMPLETE"]
        if runs.empty:
            pytest.skip(f"the pruner cut every lr=1e-2, patience={patience} trial of the original study")
        row = observations[
            (observations["trial"] == seed0["trial"]) & (observations["params_EarlyStopping.patience"] == patience)
        ]
        assert row["value"].item() == runs["value"].iloc[0]  # fmt: skip
        assert row["epochs_run"].item() == runs["epochs_run"].iloc[0]


def test_the_confirm_report_compares_the_replayed_patiences_pair_by_pair(confirmed):
    root, _ = confirmed
    settings = pd.read_csv(root / "reports" / "e2e-confirm" / "settings.csv", index_col=0)
    assert sorted(settings.index) == [2, 3]
    assert (settings["trials"] == 2).all() and (settings["paired_trials"] == 2).all()
    assert settings["value_ci_low"].notna().all() and settings["value_ci_high"].notna().all()
    assert (settings["value_ci_low"] <= settings["value_mean"]).all()
    assert settings["pareto"].any()
    observations = pd.read_csv(root / "reports" / "e2e-confirm" / "observations.csv")
    assert len(observations) == 4 and observations["replayed"].all()
    html = (root / "reports" / "e2e-confirm" / "report.html").read_text()
    assert "The confirm run of study <code>e2e</code>" in html and "<b>Paired</b>" in html


def test_confirm_resumes_and_refuses_other_numbers_for_the_same_study(confirmed):
    root, _ = confirmed
    again = sweep("confirm", "study.py", "--top", "1", "--repeats", "2", cwd=root)
    assert again.exit_code == 0 and "nothing to do: study 'e2e-confirm' holds its 2 results" in again.output
    other = sweep("confirm", "study.py", "--top", "1", "--repeats", "3", cwd=root)
    assert other.exit_code == 2 and "--top 1 --repeats 2" in other.output
    report = sweep("report", "e2e-confirm", cwd=root)  # found in the journal of the study it confirms
    assert report.exit_code == 0, report.output


def test_importances_ask_only_about_the_params_that_vary_as_a_confirm_runs_model_params_do_not():
    study = optuna.create_study(direction="maximize")
    for i in range(8):
        params = {"units": 32, "ReduceLROnPlateau.factor": [0.2, 0.5][i % 2]}
        distributions = {"units": MODEL["units"], "ReduceLROnPlateau.factor": CALLBACKS["ReduceLROnPlateau.factor"]}
        study.add_trial(
            optuna.trial.create_trial(value=0.9 + 0.01 * (i % 2), params=params, distributions=distributions)
        )
    assert set(_importances(study)) == {"ReduceLROnPlateau.factor"}
