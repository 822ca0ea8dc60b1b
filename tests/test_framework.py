"""The Keras backend by Keras's own rule, and a missing framework as one line before any worker starts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import env_without

from sweeper._errors import StudyFileError
from sweeper.execution._framework import check_framework, keras_backend


def test_the_backend_follows_keras_backend_then_keras_json_then_tensorflow(tmp_path):
    assert keras_backend({"KERAS_HOME": str(tmp_path)}) == "tensorflow"
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax", "floatx": "float32"}))
    assert keras_backend({"KERAS_HOME": str(tmp_path)}) == "jax"
    assert keras_backend({"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "torch"}) == "torch"
    (tmp_path / "keras.json").write_text("{not json")
    assert keras_backend({"KERAS_HOME": str(tmp_path)}) == "tensorflow"


def test_an_installed_tensorflow_passes(tmp_path):
    assert check_framework({"KERAS_HOME": str(tmp_path)}) == "tensorflow"


@pytest.mark.parametrize(
    ("environ", "message", "fix"),
    [
        ({"KERAS_BACKEND": "openvino"}, "KERAS_BACKEND is 'openvino' but openvino is not installed", "pip install"),
        ({"KERAS_BACKEND": "theano"}, "KERAS_BACKEND is 'theano', which Keras 3 does not have", "KERAS_BACKEND="),
    ],
)
def test_a_backend_that_cannot_run_is_one_line_naming_it_and_the_fix(tmp_path, environ, message, fix):
    with pytest.raises(StudyFileError, match=message) as raised:
        check_framework({"KERAS_HOME": str(tmp_path), **environ})
    assert fix in str(raised.value).split("Fix:")[1]


def test_without_tensorflow_the_sweep_is_one_line_and_exit_2_with_nothing_written(tmp_path, write_study):
    study_file = write_study("study = sw.Study(name='notf', data=load_data, model=build_model)\n")
    env = env_without("tensorflow", tmp_path)  # as on a machine where `pip install sweeper` took no extra
    run = subprocess.run(
        [sys.executable, "-m", "sweeper", "run", str(study_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if line]
    assert lines == [
        "error: the Keras backend is 'tensorflow' but TensorFlow is not installed. "
        "Fix: pip install 'sweeper[cpu]' (or 'sweeper[gpu]' for CUDA)."
    ]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()


def test_jax_needs_no_tensorflow(tmp_path, monkeypatch):
    pytest.importorskip("jax")
    monkeypatch.setattr("sweeper.execution._framework.is_installed", lambda package: package != "tensorflow")
    assert check_framework({"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "jax"}) == "jax"
