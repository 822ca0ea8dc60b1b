import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import sweeper as sw
from sweeper.study._space import candidate_values, grid_values, is_search_space, suggest, to_distribution


def test_spaces_map_to_optuna_distributions():
    assert to_distribution(sw.choice(3, 6, 10)) == CategoricalDistribution((3, 6, 10))
    assert to_distribution(sw.int_range(1, 8, log=True)) == IntDistribution(1, 8, log=True)
    assert to_distribution(sw.float_range(0.1, 0.9, step=0.2)) == FloatDistribution(0.1, 0.9, step=0.2)
    assert not is_search_space(3) and is_search_space(IntDistribution(1, 3))


def test_choice_accepts_a_list_and_refuses_nothing():
    assert sw.choice([0.1, 0.5]).values == (0.1, 0.5)
    with pytest.raises(ValueError, match="at least one value"):
        sw.choice()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: sw.int_range(5, 1), "low <= high"),
        (lambda: sw.int_range(0, 4, log=True), "low >= 1"),
        (lambda: sw.float_range(0.0, 1.0, log=True), "low > 0"),
    ],
)
def test_ranges_validate_their_bounds(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_suggest_samples_searched_values_and_passes_fixed_ones():
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    assert suggest(trial, "fixed", 7) == 7
    patience = suggest(trial, "EarlyStopping.patience", sw.choice(3, 6, 10))
    factor = suggest(trial, "ReduceLROnPlateau.factor", sw.float_range(0.1, 0.5, log=True))
    units = suggest(trial, "units", sw.int_range(2, 4))
    assert patience in (3, 6, 10) and 0.1 <= factor <= 0.5 and units in (2, 3, 4)
    assert set(trial.params) == {"EarlyStopping.patience", "ReduceLROnPlateau.factor", "units"}


def test_grid_and_candidate_values():
    assert grid_values(sw.int_range(2, 6, step=2)) == [2, 4, 6]
    assert grid_values(sw.choice("a", "b")) == ["a", "b"]
    with pytest.raises(ValueError, match="no grid"):
        grid_values(sw.float_range(0.1, 0.2))
    assert candidate_values(sw.float_range(0.1, 0.9)) == [0.1, 0.9]
    assert candidate_values(5) == [5]
