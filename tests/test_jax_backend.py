"""A real sweep on JAX with TensorFlow not installed: pruning, checkpoints, TensorBoard logs and reports."""

from __future__ import annotations

import pytest
from _backend_checks import (
    assert_each_trial_has_its_hparams_session,
    assert_epochs_csv_equals_the_event_files,
    assert_kept_checkpoints_evaluate_to_their_trials_value,
    assert_ran_on_cpu_with_pruning,
    sweep_on,
)

pytest.importorskip("jax")


@pytest.fixture(scope="module")
def jax_swept(tmp_path_factory):
    return sweep_on("jax", tmp_path_factory.mktemp("jax"))


def test_the_sweep_ran_on_jax_on_cpu_with_pruning(jax_swept):
    assert_ran_on_cpu_with_pruning(jax_swept, "jax")


def test_the_kept_checkpoints_load_and_evaluate_to_their_trials_value(jax_swept):
    assert_kept_checkpoints_evaluate_to_their_trials_value(jax_swept)


def test_epochs_csv_equals_its_own_event_files_read_back(jax_swept):
    assert_epochs_csv_equals_the_event_files(jax_swept)


def test_each_trial_has_its_hparams_session(jax_swept):
    assert_each_trial_has_its_hparams_session(jax_swept)
