"""A real sweep on PyTorch (CPU) with TensorFlow not installed: pruning, checkpoints, TensorBoard logs and reports.

The same checks as on JAX; what differs on PyTorch, its global random generators in a
trial's backup, is checked by tests/test_resume.py.
"""

from __future__ import annotations

import pytest
from _backend_checks import (
    assert_each_trial_has_its_hparams_session,
    assert_epochs_csv_equals_the_event_files,
    assert_kept_checkpoints_evaluate_to_their_trials_value,
    assert_ran_on_cpu_with_pruning,
    sweep_on,
)

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def torch_swept(tmp_path_factory):
    return sweep_on("torch", tmp_path_factory.mktemp("torch"))


def test_the_sweep_ran_on_pytorch_on_cpu_with_pruning(torch_swept):
    assert_ran_on_cpu_with_pruning(torch_swept, "torch")


def test_the_kept_checkpoints_load_and_evaluate_to_their_trials_value(torch_swept):
    assert_kept_checkpoints_evaluate_to_their_trials_value(torch_swept)


def test_epochs_csv_equals_its_own_event_files_read_back(torch_swept):
    assert_epochs_csv_equals_the_event_files(torch_swept)


def test_each_trial_has_its_hparams_session(torch_swept):
    assert_each_trial_has_its_hparams_session(torch_swept)
