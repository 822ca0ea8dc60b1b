"""The local backend: ``--jobs`` loky worker processes on this machine, kept busy by the driver."""

from __future__ import annotations

import os

import optuna

from sweeper._errors import StudyFileError
from sweeper.backends._backend import SweepPlan
from sweeper.backends.local._driver import SweepDriver
from sweeper.backends.local._pool import WorkerDied, WorkerPool
from sweeper.execution._cpus import available_cpus, cpu_sets, cpus_env
from sweeper.execution._framework import keras_backend
from sweeper.execution._gpu_env import slot_env
from sweeper.execution._gpus import GpuPlan, assign_slots
from sweeper.execution._interrupts import signals_deferred, terminate_as_interrupt
from sweeper.execution._progress import Progress
from sweeper.execution._tasks import probe_in_worker
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import ProbeResult

# A worker is recycled once it has grown this much since its first trial (the target: < 100 MB).
WORKER_MEMORY_BUDGET_MB = float(os.environ.get("SWEEPER_WORKER_MEMORY_MB", "80"))


class LocalBackend:
    """``jobs`` worker processes on this machine, each reused across trials.

    Every worker starts at once, so all of them import their framework and load the
    study while the probe runs.

    Args:
        jobs: How many worker processes.
        study_file: The study file's absolute path, which every worker loads.
        gpus: The GPUs and trials per GPU; ``None`` for CPU. Defaults to ``None``.
    """

    def __init__(self, jobs: int, study_file: str, gpus: GpuPlan | None = None) -> None:
        self.jobs = jobs
        self.gpus = gpus or GpuPlan(())
        self.pool = WorkerPool(jobs, WORKER_MEMORY_BUDGET_MB, study_file, worker_envs(self.gpus, jobs))
        self.pool.start()

    def describe(self) -> str:
        if not self.gpus.gpus:
            return f"{self.jobs} worker process(es)"
        gpus = ",".join(map(str, self.gpus.gpus))
        return f"{self.jobs} worker process(es) on GPU {gpus}, {self.gpus.trials_per_gpu} per GPU"

    def probe(self, study_file: str) -> ProbeResult:
        # Workers import Keras; the driver never does, so it leaves the cores to them.
        future = self.pool.submit(probe_in_worker, study_file)
        try:
            return self.pool.result(future)
        except WorkerDied as death:
            raise StudyFileError(
                f"loading the study or building its first model killed the worker: {death}",
                source=study_file,
                fix="run the study's model function alone to find the crash.",
            ) from None

    def sweep(self, study: optuna.Study, config: SweepConfig, plan: SweepPlan, progress: Progress | None) -> None:
        driver = SweepDriver(
            study, config, self.pool, plan.n_trials, plan.policy, plan.timeout, progress, on_tail=plan.on_tail
        )
        with terminate_as_interrupt():
            try:
                driver.run()
            except BaseException:
                # Any way out but success stops the workers and ends their trials first.
                with signals_deferred():
                    driver.stop()
                raise

    def close(self) -> None:
        """Keeps the workers warm: the next sweep in this process reuses them."""


def worker_envs(gpus: GpuPlan, jobs: int) -> list[dict[str, str]]:
    """Each slot's environment: the driver's Keras backend, the slot's GPU if any, and its cores."""
    backend = keras_backend()
    slots = assign_slots(gpus.gpus, gpus.trials_per_gpu, jobs)
    cpus = available_cpus()
    # Only JAX needs its cores named: TensorFlow and PyTorch take the thread budget itself.
    shares = cpu_sets(cpus, len(slots)) if backend == "jax" else [cpus] * len(slots)
    return [
        {"KERAS_BACKEND": backend, **slot_env(gpu, gpus), **cpus_env(share, cpus)}
        for gpu, share in zip(slots, shares, strict=True)
    ]
