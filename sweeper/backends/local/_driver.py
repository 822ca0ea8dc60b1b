"""The sweep loop: keeps every worker busy until the study holds ``n_trials`` results."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait

import optuna

from sweeper._compat import storage_of, trial_id_of
from sweeper._errors import SweepAborted
from sweeper.backends.local._pool import WorkerDied, WorkerPool
from sweeper.callbacks._progress_record import PROGRESS_FILE, read_progress
from sweeper.execution._budget import end_if_surplus, trials_wanted
from sweeper.execution._faults import FailFast, FaultPolicy, attempt_of, fail_trial, interrupt_trial, recover_trials
from sweeper.execution._hung import hung_grace_s, hung_message, is_hung, trial_elapsed_s
from sweeper.execution._progress import Progress
from sweeper.execution._tasks import trial_in_worker
from sweeper.storage._disk import low_disk_message
from sweeper.storage._redact import redact
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import StopReason, TrialOutcome, count_results, epoch_budget_spent, outcome_of_trial
from sweeper.trial._ownership import ask_owned, can_be_recovered

# How often the loop wakes while waiting, so signals are handled promptly.
_POLL_S = 0.5
# How often it reads the storage while only other processes' trials run.
_OTHERS_POLL_S = 1.0


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
        self.started: dict[Future, float] = {}
        self.grace_s = hung_grace_s()
        self.on_tail = on_tail
        # Why no trial may start any more: the runs folder's disk is nearly full.
        self.low_disk: str | None = None

    def run(self) -> None:
        """Runs trials until the study holds ``n_trials`` results, or the timeout or epoch budget runs out.

        Raises:
            SweepAborted: When the first ``fail_fast`` trials all failed, or (once the
                running trials have ended) when the runs folder's disk ran low.
        """
        with warnings.catch_warnings():
            # Loky warns so when a worker dies between tasks (killed while idle); the pool
            # gives the slot a fresh worker, and no trial is lost.
            warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given")
            try:
                self._run()
                if self.low_disk:
                    raise SweepAborted(self.low_disk)
            finally:
                if self.progress:
                    self.progress.close()  # however the loop ends, a live view gives the terminal back

    def _run(self) -> None:
        self._start_trials()
        while self.in_flight or self._others_running():
            if self.progress:
                self.progress.tick()
            done = self._wait()
            for future in done:
                self._finish(future)
            hung = self._end_hung_trials()
            self.fail_fast.check()
            if done or hung or not self.in_flight:  # the storage is read when a slot frees, not on every poll
                self._start_trials()
            self._enter_tail()

    def _wait(self) -> set[Future]:
        if not self.in_flight:
            # Only another process's trials run: if one of them is lost, its retry falls to us.
            time.sleep(_OTHERS_POLL_S)
            return set()
        done, _ = wait(self.in_flight, timeout=_POLL_S, return_when=FIRST_COMPLETED)
        return done

    def _others_running(self) -> bool:
        """Whether another process's trials run while the study still lacks results."""
        trials = self.study.get_trials(deepcopy=False)
        if self._past_deadline() or epoch_budget_spent(trials, self.config.epoch_budget):
            return False
        return count_results(trials) < self.n_trials and any(can_be_recovered(t, self.study) for t in trials)

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
        self.started.clear()

    def _start_trials(self) -> None:
        recover_trials(self.study)  # trials whose processes are gone: a killed run's, a lost machine's
        self.low_disk = self.low_disk or low_disk_message(self.config.runs_dir, self.config.min_free_gb)
        if self.low_disk:
            return  # the running trials finish; none starts
        trials = self.study.get_trials(deepcopy=False)
        if epoch_budget_spent(trials, self.config.epoch_budget):
            return
        wanted = trials_wanted(trials, self.n_trials)  # other runs of the study count too
        while self.pool.has_free_slot() and wanted > 0 and not self._past_deadline():
            trial = ask_owned(self.study)
            if end_if_surplus(self.study, trial.number, self.n_trials):
                return  # another process took the last trial first
            future = self.pool.submit(trial_in_worker, self.config, self.study.study_name, trial_id_of(trial))
            self.in_flight[future] = trial
            self.started[future] = time.monotonic()
            wanted -= 1

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def _end_hung_trials(self) -> int:
        """Kills the workers of trials past their time limit plus the grace, ending them FAIL ``timeout``."""
        limit = self.config.trial_timeout
        if limit is None:
            return 0
        hung = []
        for future, trial in self.in_flight.items():
            progress = read_progress(self.config.trial_dir(self.study.study_name, trial.number) / PROGRESS_FILE)
            if is_hung(trial_elapsed_s(self.started[future], progress), limit, self.grace_s):
                hung.append((future, progress))
        for future, progress in hung:
            trial = self.in_flight.pop(future)
            self.started.pop(future)
            message = hung_message(limit, self.grace_s, progress)
            # Told before the kill: the dead worker must not read as a crash to retry.
            fail_trial(self.study, trial_id_of(trial), StopReason.TIMEOUT, message)
            self.pool.kill_task(future)
            self._record(self._stored_outcome(trial))
        return len(hung)

    def _record(self, outcome: TrialOutcome) -> None:
        self.fail_fast.record(outcome)
        if self.progress:
            self.progress.update(outcome, self.study.get_trials(deepcopy=False))

    def _finish(self, future: Future) -> None:
        trial = self.in_flight.pop(future)
        self.started.pop(future, None)
        try:
            outcome = self.pool.result(future)
        except WorkerDied as death:
            outcome = self._worker_died(trial, str(death))
        except Exception as error:  # the task could not even start: unpicklable, import error...
            message = redact(f"the worker could not run the trial: {type(error).__name__}: {error}")
            fail_trial(self.study, trial_id_of(trial), StopReason.ERROR, message)
            outcome = self._stored_outcome(trial)
        self._record(outcome)

    def _worker_died(self, trial: optuna.Trial, message: str) -> TrialOutcome:
        """Fails the trial a dead worker was running, and retries it while retries remain."""
        attempt = attempt_of(storage_of(self.study).get_trial(trial_id_of(trial)))
        retry = attempt <= self.policy.retries
        if retry:
            message += f"; retried with the same params (attempt {attempt + 1})"
        if fail_trial(self.study, trial_id_of(trial), StopReason.ERROR, message, retry=retry):
            return TrialOutcome(trial.number, "FAIL", None, StopReason.ERROR.value, message, counted=not retry)
        # The worker died after it had told the storage how the trial ended.
        return self._stored_outcome(trial)

    def _stored_outcome(self, trial: optuna.Trial) -> TrialOutcome:
        """How the storage says the trial ended."""
        return outcome_of_trial(storage_of(self.study).get_trial(trial_id_of(trial)))
