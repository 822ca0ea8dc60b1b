"""The example studies load, and a grid with repeats runs every cell with every seed once."""

import pandas as pd
import pytest
from conftest import REPO, sweep

from sweeper.search._samplers import planned_trials
from sweeper.study._loader import load_study_file


@pytest.mark.parametrize("name", ["digits.py", "patience_factor.py"])
def test_example_studies_load(name):
    study = load_study_file(REPO / "studies" / name)
    assert study.searched_callback_params()


def test_patience_factor_plans_each_cell_for_each_repeat():
    study = load_study_file(REPO / "studies" / "patience_factor.py")
    planned = planned_trials(study)
    assert len(planned) == study.n_trials == 3 * 2 * 3
    cells = {tuple(sorted(params.items())) for params, _ in planned}
    assert len(cells) == 6
    assert [attrs["repeat"] for _, attrs in planned] == [0] * 6 + [1] * 6 + [2] * 6


GRID_STUDY = """
def fixed_model(trial):
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


study = sw.Study(
    name="grid", data=load_data, model=fixed_model, monitor="val_loss", epochs=3, n_trials=6,
    sampler="grid", pruner=None, seed=0, repeats=3,
    callbacks=[sw.EarlyStopping(patience=sw.choice(1, 2)), sw.ReduceLROnPlateau(factor=0.5, patience=1)],
)
"""


@pytest.mark.slow
def test_grid_with_repeats_runs_each_cell_with_the_same_seeds(tmp_path, write_study):
    result = sweep("run", str(write_study(GRID_STUDY)), "--jobs", "2", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    trials = pd.read_csv(tmp_path / "reports" / "grid" / "trials.csv")
    assert len(trials) == 6 and (trials["state"] == "COMPLETE").all()
    cells = trials.groupby("params_EarlyStopping.patience")
    assert cells.ngroups == 2
    for _, cell in cells:
        assert sorted(cell["repeat"]) == [0, 1, 2] and sorted(cell["seed"]) == [0, 1, 2]
