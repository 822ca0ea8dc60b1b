"""The sweep loop: keeps every worker busy until the study holds ``n_trials`` results."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait

import optuna

from sweeper._compat import storage_of, trial_id_of
from sweeper.backends.local._pool import WorkerDied, WorkerPool
from sweeper.execution._faults import FailFast, FaultPolicy, attempt_of, fail_trial, interrupt_trial
from sweeper.execution._progress import Progress
from sweeper.execution._tasks import trial_in_worker
from sweeper.storage._heartbeat import ask, reap_stale_trials
from sweeper.storage._redact import redact
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import StopReason, TrialOutcome, count_results, epoch_budget_spent, outcome_of_trial

# How often the loop wakes while waiting, so signals are handled promptly.
_POLL_S = 0.5


class SweepDriver:
    """Asks Optuna for trials and keeps ``pool.jobs`` of them running.

    Args:
        study: The Optuna study.
        config: What workers need to run a trial.
        pool: The worker processes.
        n_trials: Results the study should hold.
        policy: Retries and fail-fast.
        timeout: Stop starting trials after this many seconds. Defaults to ``None``.
        progress: Prints a line per finished trial. Defaults to ``None``.
        on_tail: Called once, when a worker first has no trial left to run, with its
            core to spare; the driver is otherwise idle then. Defaults to ``None``.
    """

    def __init__(
        self,
        study: optuna.Study,
        config: SweepConfig,
        pool: WorkerPool,
        n_trials: int,
        policy: FaultPolicy,
        timeout: float | None = None,
        progress: Progress | None = None,
        on_tail: Callable[[], None] | None = None,
    ) -> None:
        self.study = study
        self.config = config
        self.pool = pool
        self.n_trials = n_trials
        self.policy = policy
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.progress = progress
        self.fail_fast = FailFast(policy.fail_fast)
        self.in_flight: dict[Future, optuna.Trial] = {}
        self.on_tail = on_tail

    def run(self) -> None:
        """Runs trials until the study holds ``n_trials`` results, or the timeout or epoch budget runs out.

        Raises:
            SweepAborted: When the first ``fail_fast`` trials all failed.
        """
        with warnings.catch_warnings():
            # Loky warns so when a worker dies between tasks (killed while idle); the pool
            # gives the slot a fresh worker, and no trial is lost.
            warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given")
            self._run()

    def _run(self) -> None:
        self._start_trials()
        while self.in_flight:
            done, _ = wait(self.in_flight, timeout=_POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                self._finish(future)
            self.fail_fast.check()
            if done:  # the storage is read only when a slot has freed, not on every poll
                self._start_trials()
            self._enter_tail()

    def _enter_tail(self) -> None:
        """Runs ``on_tail`` once trials still run but a free slot got none: nothing is left to start."""
        if self.on_tail is None or not self.in_flight or not self.pool.has_free_slot():
            return
        on_tail, self.on_tail = self.on_tail, None
        on_tail()

    def stop(self) -> None:
        """Kills the workers at once and ends their trials as ``interrupted``, queued to run again.

        Finished trials are already in storage; nothing else needs saving.
        """
        self.pool.kill()
        for trial in self.in_flight.values():
            interrupt_trial(self.study, trial_id_of(trial))
        self.in_flight.clear()

    def _start_trials(self) -> None:
        reap_stale_trials(self.study)  # on a shared RDB storage: trials of workers that died elsewhere
        trials = self.study.get_trials(deepcopy=False)
        if epoch_budget_spent(trials, self.config.epoch_budget):
            return
        results = count_results(trials)
        while self.pool.has_free_slot() and results + len(self.in_flight) < self.n_trials and not self._past_deadline():
            trial = ask(self.study)
            future = self.pool.submit(trial_in_worker, self.config, self.study.study_name, trial_id_of(trial))
            self.in_flight[future] = trial

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def _finish(self, future: Future) -> None:
        trial = self.in_flight.pop(future)
        try:
            outcome = self.pool.result(future)
        except WorkerDied as death:
            outcome = self._worker_died(trial, str(death))
        except Exception as error:  # the task could not even start: unpicklable, import error...
            message = redact(f"the worker could not run the trial: {type(error).__name__}: {error}")
            fail_trial(self.study, trial_id_of(trial), StopReason.ERROR, message)
            outcome = outcome_of_trial(storage_of(self.study).get_trial(trial_id_of(trial)))
        self.fail_fast.record(outcome)
        if self.progress:
            self.progress.update(outcome)

    def _worker_died(self, trial: optuna.Trial, message: str) -> TrialOutcome:
        """Fails the trial a dead worker was running, and retries it while retries remain."""
        attempt = attempt_of(storage_of(self.study).get_trial(trial_id_of(trial)))
        retry = attempt <= self.policy.retries
        if retry:
            message += f"; retried with the same params (attempt {attempt + 1})"
        if fail_trial(self.study, trial_id_of(trial), StopReason.ERROR, message, retry=retry):
            return TrialOutcome(trial.number, "FAIL", None, StopReason.ERROR.value, message, counted=not retry)
        # The worker died after it had told the storage how the trial ended.
        return outcome_of_trial(storage_of(self.study).get_trial(trial_id_of(trial)))
