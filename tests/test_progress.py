"""The progress line: study-wide totals, one tie rule for the best trial, one name per outcome."""

from __future__ import annotations

import io

import optuna
from optuna.trial import TrialState, create_trial

from sweeper.execution._progress import Progress
from sweeper.storage._catalog import best_complete, best_trial
from sweeper.trial._outcome import TrialOutcome, outcome_of_trial


def finished(number: int, state: TrialState, value: float | None = None, **attrs) -> optuna.trial.FrozenTrial:
    trial = create_trial(state=state, value=value, user_attrs=attrs)
    trial.number = number
    return trial


def printed(progress: Progress, outcome: TrialOutcome, trials) -> str:
    progress.stream = io.StringIO()
    progress.update(outcome, trials)
    return progress.stream.getvalue()


def test_a_resumed_sweep_shows_the_studys_totals_and_best_not_this_runs():
    # Trials 0-3 ran in an earlier run; trial 4 is this run's first, and worse than the earlier best.
    trials = [
        finished(0, TrialState.COMPLETE, 0.44, stop_reason="max_epochs"),
        finished(1, TrialState.PRUNED, stop_reason="pruned"),
        finished(2, TrialState.FAIL, stop_reason="diverged"),
        finished(3, TrialState.FAIL, stop_reason="interrupted"),  # not a result
        finished(4, TrialState.COMPLETE, 0.34, stop_reason="early_stopping"),
    ]
    line = printed(Progress(6, "val_accuracy", "max"), outcome_of_trial(trials[4]), trials)
    assert "[4/6: 2 complete, 1 pruned, 1 failed · best 0.4400 (trial 0)]" in line


def test_ties_go_to_the_lowest_trial_number_everywhere():
    # Trial 1 finished first with the same value as trial 0: the line, `sweeper best` and the report agree.
    trials = [finished(1, TrialState.COMPLETE, 0.44), finished(0, TrialState.COMPLETE, 0.44)]
    assert best_complete(trials, maximize=True).number == 0
    line = printed(Progress(2, "val_accuracy", "max"), outcome_of_trial(trials[0]), trials)
    assert "best 0.4400 (trial 0)" in line
    study = optuna.create_study(direction="maximize")
    for value in (0.3, 0.44, 0.44):
        study.add_trial(create_trial(state=TrialState.COMPLETE, value=value))
    assert best_trial(study).number == 1
    minimize = optuna.create_study(direction="minimize")
    for value in (0.5, 0.2, 0.2):
        minimize.add_trial(create_trial(state=TrialState.COMPLETE, value=value))
    assert best_trial(minimize).number == 1


def test_a_trial_another_process_ended_prints_under_the_name_the_storage_gives_it():
    ended = finished(5, TrialState.FAIL, stop_reason="interrupted")
    outcome = outcome_of_trial(ended)
    line = printed(Progress(6, "val_loss", "min"), outcome, [ended])
    assert "trial    5 FAIL     (interrupted, not counted)" in line
    assert "error" not in line
