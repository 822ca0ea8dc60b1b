"""A trial that breaks its GPU context fails alone, and its worker process is replaced, on real fits.

This machine has no GPU, so the trial raises the error CUDA's runtime raises after an
illegal memory access (as PyTorch words it); what follows is sweeper's real handling.
"""

from __future__ import annotations

import optuna
import pytest
from conftest import sweep

from sweeper.storage._open import open_storage
from sweeper.trial import _device

BREAKS_ITS_CONTEXT = """
def build_or_break(trial):
    model = build_model(trial)
    if trial.number == 0:
        raise RuntimeError("CUDA error: an illegal memory access was encountered\\n"
                           "CUDA kernel errors might be asynchronously reported at some other API call")
    return model


study = sw.Study(name="broken", data=load_data, model=build_or_break, monitor="val_accuracy", epochs=1,
                 batch_size=256, n_trials=3, pruner=None, seed=0)
"""


def _trials(root):
    storage = open_storage(str(root / "runs" / "broken" / "journal.log"))
    return {t.number: t for t in optuna.load_study(study_name="broken", storage=storage).trials}


def _error(type_name: str, message: str) -> BaseException:
    return type(type_name, (RuntimeError,), {})(message)


@pytest.mark.parametrize(
    "error",
    [
        _error("InternalError", "Failed to launch kernel: CUDA_ERROR_ILLEGAL_ADDRESS"),  # TensorFlow
        _error("XlaRuntimeError", "INTERNAL: CUDA error: unspecified launch failure (CUDA_ERROR_LAUNCH_FAILED)"),
        _error("AcceleratorError", "CUDA error: device-side assert triggered"),  # PyTorch
        _error("InternalError", "GPU sync failed"),
    ],
)
def test_cudas_sticky_errors_mean_a_broken_context(error):
    assert _device.is_broken_device(error) and not _device.is_out_of_memory(error)


@pytest.mark.parametrize(
    "error", [_error("OutOfMemoryError", "CUDA out of memory."), ValueError("shapes (3,) and (4,) differ")]
)
def test_other_errors_leave_the_context_usable(error):
    assert not _device.is_broken_device(error)


def test_the_line_names_the_gpu_and_says_the_worker_is_replaced(monkeypatch):
    monkeypatch.setattr(_device, "device_attrs", lambda: {"device": "gpu:2", "backend": "torch"})
    message = _device.broken_device_message(_error("AcceleratorError", "CUDA error: misaligned address"))
    assert message.startswith("the CUDA context of gpu:2 broke (AcceleratorError: misaligned address)")
    assert "its worker process is replaced" in message and "\n" not in message


def test_the_trial_fails_alone_and_a_fresh_worker_runs_the_rest(tmp_path, write_study):
    study_file = write_study(BREAKS_ITS_CONTEXT)
    result = sweep("run", str(study_file), "--jobs", "1", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    trials = _trials(tmp_path)
    broken = trials[0]
    assert (
        broken.state.name == "FAIL"
        and "the CUDA context broke (RuntimeError: an illegal memory access" in (broken.user_attrs["error"])
    )
    rest = [t for t in trials.values() if t.number != 0]
    assert len(rest) == 2 and all(t.state.name == "COMPLETE" for t in rest)
    assert {t.user_attrs["pid"] for t in rest}.isdisjoint({broken.user_attrs["pid"]})


def test_sweeper_worker_tells_the_trial_then_exits_1_to_be_restarted(tmp_path, write_study):
    study_file = write_study(BREAKS_ITS_CONTEXT)
    storage = str(tmp_path / "journal.log")
    result = sweep("worker", str(study_file), "--storage", storage, cwd=tmp_path)
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: trial 0: the CUDA context broke") and line.endswith("Restart this worker to go on.")
    trials = optuna.load_study(study_name="broken", storage=open_storage(storage)).trials
    assert [t.state.name for t in trials] == ["FAIL"]  # told before the exit; nothing left RUNNING
    rerun = sweep("worker", str(study_file), "--storage", storage, cwd=tmp_path)
    assert rerun.exit_code == 0, rerun.output
