"""A real sweep on JAX and on PyTorch (CPU), TensorFlow not installed: pruning, checkpoints, TensorBoard logs, reports.

What differs on PyTorch, its global random generators in a trial's backup, is checked
by tests/test_resume.py.
"""

from __future__ import annotations

import importlib.util

import pytest
from _backend_checks import (
    assert_each_trial_has_its_hparams_session,
    assert_epochs_csv_equals_the_event_files,
    assert_kept_checkpoints_evaluate_to_their_trials_value,
    assert_ran_on_cpu_with_pruning,
    sweep_on,
)


@pytest.fixture(scope="module", params=["jax", "torch"])
def swept(request, tmp_path_factory):
    backend = request.param
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    return backend, sweep_on(backend, tmp_path_factory.mktemp(backend))


def test_the_sweep_ran_on_cpu_with_pruning(swept):
    backend, sweep = swept
    assert_ran_on_cpu_with_pruning(sweep, backend)


def test_the_kept_checkpoints_load_and_evaluate_to_their_trials_value(swept):
    assert_kept_checkpoints_evaluate_to_their_trials_value(swept[1])


def test_epochs_csv_equals_its_own_event_files_read_back(swept):
    assert_epochs_csv_equals_the_event_files(swept[1])


def test_each_trial_has_its_hparams_session(swept):
    assert_each_trial_has_its_hparams_session(swept[1])
