"""Trials per GPU: the same sweep at --trials-per-gpu 1, 2, 4 and 8, against K hand-pinned bare processes.

    KERAS_BACKEND=jax python benchmarks/gpu.py [--gpu 0] [--ks 1,2,4,8] [--trials 8] [--epochs 3]

For a machine with one GPU, JAX with CUDA and nvidia-ml-py (TensorFlow not needed).
For each K it prints trials per minute, the ratio to K = 1, the GPU's mean
utilisation (sampled through nvidia-ml-py), the peak GPU memory of one process, and
sweeper's ratio to K bare processes pinned by hand (CUDA_VISIBLE_DEVICES and JAX's
memory fraction) doing the same fits, the limit. It checks that every trial ran on
the GPU sweeper assigned (trials.csv's ``device`` against what JAX saw in the worker).
Without a GPU it says so in one line and exits 0.

Targets (issue 16): K = 4 gives at least 2.5x the trials per minute of K = 1, and
sweeper reaches at least 0.9 of the bare processes at every K.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sweeper.execution._gpu_env import GPU_MEMORY_SHARE
from sweeper.execution._gpus import discover_gpus

HERE = Path(__file__).resolve().parent
STUDY = HERE / "gpu_study.py"
# Every process's GPU memory share at K per GPU, as sweeper sets it.
SHARE = GPU_MEMORY_SHARE


def main() -> None:
    args = _arguments()
    if args.bare:
        _bare_fits(args.fits, args.epochs)
        return
    gpus = discover_gpus()
    if args.gpu not in gpus:
        print(f"no GPU {args.gpu} here (nvidia-ml-py found {gpus or 'none'}): benchmarks/gpu.py needs one; skipped.")
        return
    rows = [_measure(k, args) for k in args.ks]
    _print(rows)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", type=int, default=0)
    parser.add_argument("--ks", type=lambda text: [int(k) for k in text.split(",")], default=[1, 2, 4, 8])
    parser.add_argument("--trials", type=int, default=8, help="Trials per K (at least K).")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fits", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args()


class GpuSampler:
    """Samples the GPU's utilisation and each process's memory on it, every 0.2 s, in a thread."""

    def __init__(self, gpu: int) -> None:
        import pynvml

        pynvml.nvmlInit()  # for the whole run: the sampler asks every 0.2 s
        self._nvml = pynvml
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(gpu)
        self._stop = threading.Event()
        self.utilisation: list[int] = []
        self.peak_mb: dict[int, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.utilisation.append(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
            for process in self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle):
                used = (process.usedGpuMemory or 0) / 2**20
                self.peak_mb[process.pid] = max(self.peak_mb.get(process.pid, 0.0), used)

    def summary(self) -> tuple[float, float]:
        mean = sum(self.utilisation) / len(self.utilisation) if self.utilisation else float("nan")
        return mean, max(self.peak_mb.values(), default=float("nan"))


def _env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax"),
        "BENCH_TRIALS": str(args.trials),
        "BENCH_EPOCHS": str(args.epochs),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")])),
    }


def _measure(k: int, args: argparse.Namespace) -> dict[str, float | int | str]:
    trials = max(args.trials, k)
    args = argparse.Namespace(**{**vars(args), "trials": trials})
    with tempfile.TemporaryDirectory() as work, GpuSampler(args.gpu) as sampler:
        command = [sys.executable, "-m", "sweeper", "run", str(STUDY), "--gpus", str(args.gpu)]
        command += ["--trials-per-gpu", str(k), "--runs-dir", f"{work}/runs", "--reports-dir", f"{work}/reports"]
        sweep_s = _timed([command], [_env(args)])
        devices = _check_devices(Path(work), args.gpu)
    utilisation, peak_mb = sampler.summary()
    bare_s = _bare(k, args)
    return {
        "k": k,
        "trials": trials,
        "sweep_s": sweep_s,
        "bare_s": bare_s,
        "utilisation": utilisation,
        "peak_mb": peak_mb,
        "devices": devices,
    }


def _bare(k: int, args: argparse.Namespace) -> float:
    """K processes pinned by hand, each doing its share of the same fits."""
    shares = [args.trials // k + (i < args.trials % k) for i in range(k)]
    env = {**_env(args), "CUDA_VISIBLE_DEVICES": str(args.gpu)}
    if k > 1:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{SHARE / k:.3f}"
    script = [sys.executable, str(Path(__file__).resolve()), "--bare", "--epochs", str(args.epochs)]
    return _timed([[*script, "--fits", str(n)] for n in shares], [env] * k)


def _timed(commands: list[list[str]], envs: list[dict[str, str]]) -> float:
    started = time.perf_counter()
    processes = [
        subprocess.Popen(c, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for c, e in zip(commands, envs, strict=True)
    ]
    for process, command in zip(processes, commands, strict=True):
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    return time.perf_counter() - started


def _check_devices(work: Path, gpu: int) -> str:
    """``ok`` when every trial's ``device`` is the assigned GPU and what the framework saw in the worker."""
    import optuna
    import pandas as pd

    trials = pd.read_csv(work / "reports" / "bench-gpu" / "trials.csv")
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(work / "runs" / "bench-gpu" / "journal.log"))
    )
    study = optuna.load_study(study_name="bench-gpu", storage=storage)
    seen = {t.number: t.user_attrs.get("framework_device") for t in study.trials}
    wrong = [
        f"trial {row.trial}: device {row.device}, framework saw {seen.get(row.trial)}"
        for row in trials.itertuples()
        if not (row.device == seen.get(row.trial) == f"gpu:{gpu}")
    ]
    return "ok" if not wrong else "; ".join(wrong)


def _bare_fits(fits: int, epochs: int) -> None:
    """One bare process: the study's data and model, ``fits`` fits in a loop, no sweeper, no Optuna storage."""
    import optuna

    sys.path.insert(0, str(HERE))
    import gpu_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (x, y), validation = gpu_study.load_data()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=os.getpid()))
    for _ in range(fits):
        trial = study.ask()
        model = gpu_study.build_model(trial)
        model.fit(x, y, batch_size=256, epochs=epochs, validation_data=validation, verbose=0)
        study.tell(trial, 0.0)


def _print(rows: list[dict]) -> None:
    base = rows[0]["trials"] / rows[0]["sweep_s"]
    print(
        "| K | trials | sweeper s | trials/min | vs K=1 | bare s | sweeper vs bare | GPU util % "
        "| peak MB/process | device |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        rate = row["trials"] / row["sweep_s"]
        print(
            f"| {row['k']} | {row['trials']} | {row['sweep_s']:.1f} | {60 * rate:.1f} | {rate / base:.2f} "
            f"| {row['bare_s']:.1f} | {row['bare_s'] / row['sweep_s']:.2f} | {row['utilisation']:.0f} "
            f"| {row['peak_mb']:.0f} | {row['devices']} |"
        )


if __name__ == "__main__":
    main()
