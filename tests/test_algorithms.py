import optuna
import pytest

import sweeper as sw
from sweeper._algorithms import make_sampler, tpe_startup_trials


def _study(**fields) -> sw.Study:
    return sw.Study(name="algorithms", data=lambda: None, model=lambda trial: None, **fields)


@pytest.mark.parametrize(
    ("n_trials", "epochs", "epoch_budget", "expected"),
    [
        (20, 15, None, 5),  # the study default: never fewer than 5 random trials
        (24, 15, None, 5),
        (40, 15, None, 8),  # a fifth of the budget
        (50, 15, None, 10),
        (500, 15, None, 10),  # never more than Optuna's own default
        (96, 15, 360, 5),  # pruning's many short trials: 360 epochs pay for 24 full ones
        (24, 15, 10_000, 5),  # a budget the trials never reach changes nothing
        (96, 15, None, 10),
    ],
)
def test_tpe_random_start_is_a_fifth_of_the_budget_in_full_trials(n_trials, epochs, epoch_budget, expected):
    assert tpe_startup_trials(n_trials, epochs, epoch_budget) == expected


def _first_values(sampler: optuna.samplers.BaseSampler, n_trials: int) -> list[float]:
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda trial: (trial.suggest_float("x", -5.0, 5.0) - 1.0) ** 2, n_trials=n_trials)
    return [trial.params["x"] for trial in study.trials]


def test_a_small_budget_starts_modelling_after_five_random_trials():
    # One seed: both samplers draw the same random trials until the smaller budget's
    # TPE takes over at the sixth, while the 50-trial sweep is still sampling at random.
    study = _study(epochs=15, n_trials=24, seed=3)
    small = _first_values(make_sampler(study), 6)
    large = _first_values(make_sampler(study, n_trials=50), 6)
    assert small[:5] == large[:5]
    assert small[5] != large[5]


def test_the_sweeps_epoch_budget_sizes_the_random_start():
    study = _study(epochs=15, n_trials=96, seed=3)
    budgeted = _first_values(make_sampler(study, epoch_budget=360), 6)
    unbudgeted = _first_values(make_sampler(study), 6)
    assert budgeted[:5] == unbudgeted[:5]
    assert budgeted[5] != unbudgeted[5]
