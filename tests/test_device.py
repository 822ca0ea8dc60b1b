"""A trial's device and backend, and a GPU out of memory told in one line, recognised without importing a framework."""

from __future__ import annotations

import pytest

from sweeper.trial import _device


def _error(type_name: str, message: str) -> BaseException:
    return type(type_name, (RuntimeError,), {})(message)


@pytest.mark.parametrize(
    "error",
    [
        _error("ResourceExhaustedError", "OOM when allocating tensor with shape[512,512]"),
        _error("XlaRuntimeError", "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB"),
        _error("JaxRuntimeError", "RESOURCE_EXHAUSTED: Out of memory allocating 1 bytes"),
        _error("OutOfMemoryError", "CUDA out of memory. Tried to allocate 20.00 MiB"),
    ],
)
def test_each_frameworks_out_of_memory_error_is_recognised(error):
    assert _device.is_out_of_memory(error)


@pytest.mark.parametrize(
    "error", [ValueError("bad shape"), _error("XlaRuntimeError", "INVALID_ARGUMENT: shapes differ"), KeyError("x")]
)
def test_other_errors_are_not_out_of_memory(error):
    assert not _device.is_out_of_memory(error)


def test_out_of_memory_on_a_gpu_names_it_the_trials_sharing_it_and_the_fix(monkeypatch):
    monkeypatch.setattr(_device, "device_attrs", lambda: {"device": "gpu:1", "backend": "jax"})
    monkeypatch.setenv("SWEEPER_TRIALS_PER_GPU", "4")
    error = _error("XlaRuntimeError", "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB")
    assert _device.out_of_memory_message(error) == (
        "gpu:1 ran out of memory (4 trial(s) share it, XlaRuntimeError): lower --trials-per-gpu or the batch size."
    )
    assert _device.out_of_memory_message(ValueError("bad shape")) is None


def test_on_cpu_an_out_of_memory_error_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr(_device, "device_attrs", lambda: {"device": "cpu", "backend": "tensorflow"})
    assert _device.out_of_memory_message(_error("ResourceExhaustedError", "OOM when allocating")) is None


def test_this_workers_device_is_the_cpu_and_its_backend_keras_own():
    import keras

    _device.device_attrs.cache_clear()
    assert _device.device_attrs() == {"device": "cpu", "backend": keras.backend.backend()}
