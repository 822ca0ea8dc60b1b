"""The example studies in studies/ run as the README says."""

import pandas as pd
import pytest

from conftest import REPO, sweep


@pytest.mark.slow
def test_patience_factor_grid_runs_each_cell_with_the_same_seeds(tmp_path):
    result = sweep("run", str(REPO / "studies" / "patience_factor.py"), "--jobs", "2", "--n-trials", "6", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    trials = pd.read_csv(tmp_path / "reports" / "patience_factor" / "trials.csv")
    assert len(trials) == 6 and (trials["state"] == "COMPLETE").all()
    cells = trials.groupby(["params_EarlyStopping.patience", "params_ReduceLROnPlateau.factor"])
    assert cells.ngroups == 2
    for _, cell in cells:
        assert sorted(cell["repeat"]) == [0, 1, 2] and sorted(cell["seed"]) == [0, 1, 2]
