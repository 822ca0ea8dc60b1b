"""GPU placement: parsing --gpus, the slot-to-GPU assignment, each slot's environment, and the errors."""

from __future__ import annotations

import pytest

from sweeper._errors import StudyFileError
from sweeper.backends.local._backend import worker_envs
from sweeper.execution._gpu_env import process_env, slot_env
from sweeper.execution._gpus import (
    GpuPlan,
    assign_slots,
    gpu_options,
    jobs_for,
    parse_gpus,
    plan_gpus,
)


@pytest.mark.parametrize(
    ("gpus", "k", "jobs", "expected"),
    [
        ((0, 1), 1, 2, [0, 1]),
        ((0, 1), 2, 4, [0, 1, 0, 1]),
        ((0, 1, 3), 3, 9, [0, 1, 3] * 3),
        ((0, 1), 2, 3, [0, 1, 0]),  # uneven: fewer jobs than slots still spread over the GPUs
        ((2,), 3, 2, [2, 2]),
        ((0, 1, 2, 3), 1, 3, [0, 1, 2]),
        ((), 1, 3, [None, None, None]),  # CPU
    ],
)
def test_slots_are_assigned_round_robin_with_k_per_gpu(gpus, k, jobs, expected):
    slots = assign_slots(gpus, k, jobs)
    assert slots == expected
    assert all(slots.count(gpu) <= k for gpu in gpus)


def test_gpus_parse_auto_none_and_indices():
    assert parse_gpus(None) == "auto" and parse_gpus("AUTO") == "auto" and parse_gpus("none") == "none"
    assert parse_gpus("0,1,3") == (0, 1, 3) and parse_gpus([2, 0]) == (2, 0) and parse_gpus(" 1 ") == (1,)


@pytest.mark.parametrize("value", ["", "gpu0", "0,0", "-1", "1,,2", [True]])
def test_a_bad_gpus_value_names_the_option_and_its_forms(value):
    with pytest.raises(StudyFileError, match="--gpus=.*'auto', 'none' or distinct GPU indices"):
        parse_gpus(value)


def test_auto_takes_every_gpu_found_and_none_hides_them():
    assert plan_gpus("auto", 2, [0, 1]) == GpuPlan((0, 1), 2)
    assert plan_gpus("auto", 1, []) == GpuPlan((), 1)
    assert plan_gpus("none", 1, [0, 1]) == GpuPlan((), 1, hide_gpus=True)


def test_a_named_gpu_this_machine_lacks_is_an_error_listing_the_gpus_found():
    with pytest.raises(StudyFileError, match=r"names GPU 3, which this machine does not have \(GPUs found: 0, 1\)"):
        plan_gpus("0,3", 1, [0, 1])
    with pytest.raises(StudyFileError, match=r"GPUs found: none"):
        plan_gpus("0", 1, [])


def test_jobs_default_to_gpus_times_k_and_may_not_exceed_it():
    plan = GpuPlan((0, 1), 3)
    assert jobs_for(plan, None) == 6 and jobs_for(plan, 4) == 4
    assert jobs_for(GpuPlan(()), None) is None and jobs_for(GpuPlan(()), 7) == 7
    too_many = r"--jobs 7 is more than the 2 GPU\(s\) × --trials-per-gpu 3 = 6"
    with pytest.raises(StudyFileError, match=too_many) as raised:
        jobs_for(plan, 7)
    assert "--jobs 6 or fewer" in str(raised.value)


def test_each_slot_env_pins_its_gpu_and_shares_memory_only_when_shared():
    alone = slot_env(1, GpuPlan((0, 1), 1, memory_mb=((1, 24000),)))
    assert alone == {
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": "1",
        "SWEEPER_GPU": "1",
        "SWEEPER_TRIALS_PER_GPU": "1",
    }
    shared = slot_env(0, GpuPlan((0,), 4, memory_mb=((0, 24000),)))
    assert shared["CUDA_VISIBLE_DEVICES"] == "0" and shared["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.225"
    assert shared["SWEEPER_GPU_MEMORY_MB"] == "5400"  # TensorFlow's logical device: 90% of 24 GB, in four
    assert "SWEEPER_GPU_MEMORY_MB" not in slot_env(0, GpuPlan((0,), 4))  # unknown memory: TF grows on demand
    assert slot_env(None, GpuPlan(())) == {}
    assert slot_env(None, GpuPlan((), hide_gpus=True)) == {"CUDA_VISIBLE_DEVICES": ""}


def test_without_gpus_auto_gives_todays_cpu_workers(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setattr("sweeper.execution._gpus.discover_gpus", lambda: [])
    plan, jobs = gpu_options("auto", 1, None, local=True)
    assert (plan, jobs) == (GpuPlan(()), 1)
    assert worker_envs(plan, 2) == [{"KERAS_BACKEND": "tensorflow"}] * 2


def test_this_machine_finds_no_gpu_without_nvidia_ml_py():
    from sweeper.execution._gpus import discover_gpus

    assert discover_gpus() == []


def test_trials_per_gpu_must_be_positive():
    with pytest.raises(StudyFileError, match="--trials-per-gpu=0 must be a positive integer"):
        gpu_options("auto", 0, None, local=True)


def test_a_sweeper_worker_is_pinned_to_one_named_gpu_with_its_share(monkeypatch):
    monkeypatch.setattr("sweeper.execution._gpu_env.discover_gpus", lambda: [0, 1])
    monkeypatch.setattr("sweeper.execution._gpu_env.discover_memory_mb", lambda gpus: ((1, 10000),))
    env = process_env("1", 2)
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["SWEEPER_GPU_MEMORY_MB"] == "4500"
    assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.450"
    # auto keeps what it was given (dask-cuda, the user's CUDA_VISIBLE_DEVICES) and shares it.
    assert process_env("auto", 2) == {"SWEEPER_TRIALS_PER_GPU": "2", "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.450"}
    assert process_env("auto", 1) == {} and process_env("none", 1) == {"CUDA_VISIBLE_DEVICES": ""}
    with pytest.raises(StudyFileError, match="names 2 GPUs, but a worker runs one trial at a time"):
        process_env("0,1", 1)
    with pytest.raises(StudyFileError, match="names GPU 3, which this machine does not have"):
        process_env("3", 1)
