"""The Dask backend: the same study on a Dask cluster's workers, against one shared RDB storage.

The driver starts :func:`sweeper.execution._worker_loop.work` on every Dask worker through
``client.submit`` (joblib's dask backend hangs for ever when a task's workers die,
and runs tasks in the client when only one worker thread is up). Each loop asks
the shared storage for trials until the study holds ``n_trials`` results, so a
rescheduled task, which re-runs from scratch, just rejoins the study. A dead
worker's trial is reaped by heartbeat and retried with the same params.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import warnings
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeper._errors import StudyFileError, SweepAborted, SweeperError
from sweeper.execution._cpus import original_cpus, shares_by_host
from sweeper.execution._progress import Progress
from sweeper.execution._tasks import LoopEnd, prepare_dask_worker, probe_in_dask_worker, work_in_dask_worker
from sweeper.storage._heartbeat import reap_stale_trials
from sweeper.storage._redact import redact
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import ProbeResult, count_results, outcome_of_trial, retried_by_heartbeat

CONNECT_TIMEOUT_S = 10
# A loop that dies with its worker is started again; past this, something else is wrong.
MAX_LOOP_RESTARTS = 10
WORKERS_TIMEOUT_S = 60
_POLL_S = 1.0


class DaskCluster:
    """A connection to a running Dask scheduler and its workers.

    Args:
        scheduler: The scheduler's address, e.g. ``tcp://host:8786``.
        trials_per_gpu: Trials sharing each worker's GPU, for its memory share. Defaults to ``1``.

    Raises:
        StudyFileError: When the scheduler cannot be reached, or has no workers.
    """

    def __init__(self, scheduler: str, trials_per_gpu: int = 1) -> None:
        self.scheduler = scheduler
        self.trials_per_gpu = trials_per_gpu
        self.client = _connect(scheduler)
        try:
            self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except Exception:
            self.close()
            raise StudyFileError(
                f"the Dask scheduler {scheduler} has no workers after {WORKERS_TIMEOUT_S} s.",
                fix="start workers with `dask worker SCHEDULER --nthreads 1` from sweeper's environment.",
            ) from None
        self._share_cores()

    def probe(self, study_file: str) -> ProbeResult:
        """Runs the probe on one worker, while the others import their framework at the same time."""
        first, *others = self.threads
        share = self.trials_per_gpu
        for address in others:
            self.client.submit(
                prepare_dask_worker, self.threads[address], share, self.cpus[address], workers=[address], pure=False
            )
        future = self.client.submit(
            probe_in_dask_worker, study_file, self.threads[first], share, self.cpus[first], workers=[first], pure=False
        )
        return future.result()

    def sweep(self, study: optuna.Study, config: SweepConfig, n_trials: int, progress: Progress | None) -> None:
        """Runs worker loops on every Dask worker until the study holds ``n_trials`` results
        (or the config's epoch budget is spent).

        A loop that fails (its worker died and Dask gave up on it) is started
        again while results are missing. At the end, trials left RUNNING by dead
        workers are reaped, so none stays RUNNING.
        """
        futures = {self._start_loop(config, study.study_name, n_trials, address) for address in self.threads}
        reporter = _NewTrials(study, progress)
        restarts = 0
        while futures:
            time.sleep(_POLL_S)
            reporter.report()
            done = {future for future in futures if future.done()}
            futures -= done
            for future in done:
                enough = count_results(study.get_trials(deepcopy=False)) >= n_trials
                if future.status == "finished" and future.result().broken:
                    self._restart_broken(future.result())  # not a failed loop: its trial is told
                    if not enough:
                        futures.add(self._start_loop(config, study.study_name, n_trials, None))
                    continue
                if future.status == "finished" or enough:
                    continue
                _raise_if_aborted(future)  # a full disk: restarting the loop would only fail again
                restarts += 1
                if restarts > MAX_LOOP_RESTARTS:
                    raise SweeperError(f"Dask worker loops failed {restarts} times; the last: {_failure(future)}")
                warnings.warn(
                    f"a worker loop on the Dask cluster ended ({_failure(future)}); starting another", stacklevel=2
                )
                futures.add(self._start_loop(config, study.study_name, n_trials, None))
        _reap_until_none_running(study, config)
        reporter.report()

    def close(self) -> None:
        self.client.close()

    def _start_loop(self, config: SweepConfig, name: str, n_trials: int, address: str | None) -> Any:
        # A preference, not a pin: a restarted worker comes back at a new address, and a
        # task pinned to the old one would wait for it for ever.
        workers = None if address is None else [address]
        if address is None:
            self._share_cores()  # the loop may land on a worker restarted since
        return self.client.submit(
            work_in_dask_worker,
            config,
            name,
            n_trials,
            self.cpus,  # the loop takes its own worker's share
            self.trials_per_gpu,
            workers=workers,
            allow_other_workers=workers is not None,  # Dask refuses it without workers
            pure=False,
        )

    def _restart_broken(self, end: LoopEnd) -> None:
        """Restarts the Dask worker whose GPU context broke: the nanny starts a fresh process."""
        warnings.warn(f"Dask worker {end.address}: {end.broken}; restarting it", stacklevel=3)
        try:
            self.client.restart_workers([end.address], raise_for_error=False)
        except Exception as error:  # a worker that cannot restart is the nanny's business; the loops go on
            warnings.warn(f"could not restart Dask worker {end.address}: {error}", stacklevel=3)

    def _share_cores(self) -> None:
        self.cpus = self._cpus_per_worker()
        self.threads = {address: len(cpus) for address, cpus in self.cpus.items()}

    def _cpus_per_worker(self) -> dict[str, tuple[int, ...]]:
        """Each worker's cores: its host's shared among the host's workers (its thread budget, and JAX's cores)."""
        return shares_by_host(self.client.run(original_cpus), _host)


def _raise_if_aborted(future: Any) -> None:
    """Re-raises a loop's :class:`SweepAborted` (the runs folder's disk ran low) here, in the driver."""
    try:
        error = future.exception(timeout=5)
    except Exception:
        return
    if isinstance(error, SweepAborted):
        raise SweepAborted(str(error))


def _failure(future: Any) -> str:
    """One line on why a task failed: a worker's death (``KilledWorker``) or an error in the loop."""
    try:
        error = future.exception(timeout=5)
    except Exception as lost:
        error = lost
    if error is None:
        return f"task {future.status}"  # e.g. cancelled: its worker was restarted under it
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {redact(text[0]) if text else ''}"


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0]


def _connect(scheduler: str) -> Any:
    """A Client, or a clear error within seconds: a silent listener would hang the handshake."""
    try:
        from distributed import Client
    except ImportError:
        raise StudyFileError("--backend dask needs Dask.", fix="pip install 'sweeper[distributed]'.") from None
    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["client"] = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=connect, name="sweeper-dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S + 2)
    if "client" in outcome:
        return outcome["client"]
    reason = outcome.get("error", f"no answer within {CONNECT_TIMEOUT_S} s")
    raise StudyFileError(
        f"cannot reach the Dask scheduler {redact(scheduler)}: {reason}",
        fix="check --scheduler, and that `dask scheduler` runs there.",
    )


def _reap_until_none_running(study: optuna.Study, config: SweepConfig) -> None:
    """Waits out the grace period of trials whose workers died, failing them once stale."""
    deadline = time.monotonic() + config.heartbeat.grace_period_s + 2 * config.heartbeat.interval_s
    while any(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False)):
        if time.monotonic() > deadline:
            return
        reap_stale_trials(study)
        time.sleep(_POLL_S)


class _NewTrials:
    """Prints each trial once it has finished, polling the shared storage."""

    def __init__(self, study: optuna.Study, progress: Progress | None) -> None:
        self.study = study
        self.progress = progress
        self.seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}

    def report(self) -> None:
        if self.progress is None:
            return
        trials = self.study.get_trials(deepcopy=False)
        retried = retried_by_heartbeat(trials)
        for trial in trials:
            if trial.state.is_finished() and trial.number not in self.seen:
                self.seen.add(trial.number)
                outcome = outcome_of_trial(trial)
                counted = outcome.counted and trial.number not in retried
                self.progress.update(dataclasses.replace(outcome, counted=counted), trials)
        self.progress.tick()
