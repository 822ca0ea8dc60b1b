"""What the driver does when a trial cannot end on its own: fail it, retry it, or stop the sweep.

A worker ends its own trials. These helpers cover the trials it could not end:
its process died, the sweep was interrupted, or an earlier run was killed and
left them RUNNING.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from sweeper._compat import has_heartbeat, storage_of, trial_id_of
from sweeper._errors import SweepAborted
from sweeper.storage._heartbeat import reap_stale_trials
from sweeper.storage._retention import RETRY_OF_ATTR
from sweeper.trial._outcome import RETRIED_ATTR, STOP_REASON_ATTR, StopReason, TrialOutcome, last_line
from sweeper.trial._ownership import is_abandoned

# Planned attributes a retry keeps, so it trains from the same seed as the original.
_KEPT_ON_RETRY = ("repeat", "repeat_of", "seed", "config")
ATTEMPT_ATTR = "attempt"


def fail_trial(
    study: optuna.Study, trial_id: int, reason: StopReason, message: str | None = None, *, retry: bool = False
) -> bool:
    """Ends a RUNNING trial as FAIL with ``reason``, and queues its retry if asked.

    Args:
        study: The study.
        trial_id: The trial's storage id.
        reason: Its stop reason.
        message: The error message to store, if any. Defaults to ``None``.
        retry: Queue a trial with the same params, which stands in for this one in
            the count. Defaults to ``False``.

    Returns:
        ``False`` when the trial had already ended (its worker told the storage first).
    """
    storage = storage_of(study)
    trial = storage.get_trial(trial_id)
    if trial.state != TrialState.RUNNING:
        return False
    attrs = {STOP_REASON_ATTR: reason.value, "error": message, RETRIED_ATTR: retry or None}
    try:
        # Attributes first: Optuna refuses to update a trial once it has finished.
        for key, value in attrs.items():
            if value is not None:
                storage.set_trial_user_attr(trial_id, key, value)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:
        return False
    if retry:
        _enqueue_retry(study, trial)
    return True


def attempt_of(trial: FrozenTrial) -> int:
    """Which attempt at its params ``trial`` is: 1 for the first run, 2 for its first retry..."""
    return int(trial.user_attrs.get(ATTEMPT_ATTR, 1))


def _enqueue_retry(study: optuna.Study, trial: FrozenTrial) -> None:
    user_attrs = {key: trial.user_attrs[key] for key in _KEPT_ON_RETRY if key in trial.user_attrs}
    user_attrs.update({RETRY_OF_ATTR: trial.number, ATTEMPT_ATTR: attempt_of(trial) + 1})
    study.enqueue_trial(trial.params, user_attrs=user_attrs)


def interrupt_trial(study: optuna.Study, trial_id: int) -> None:
    """Ends a trial the sweep cut short as FAIL ``interrupted``, and queues it to run again."""
    fail_trial(study, trial_id, StopReason.INTERRUPTED, retry=True)


def recover_trials(study: optuna.Study) -> int:
    """Ends the trials whose processes are gone, queuing their retries.

    With heartbeats (an RDB storage), a trial silent for the grace period is
    failed and retried by Optuna. Without (a journal file), a RUNNING trial is
    ended once every process recorded on it has exited (``execution/_ownership.py``):
    a killed earlier run's trials are recovered, another live run's are left alone.

    Args:
        study: The study.

    Returns:
        How many trials were ended here (heartbeat reaping is not counted).
    """
    if has_heartbeat(storage_of(study)):
        reap_stale_trials(study)
        return 0
    abandoned = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if is_abandoned(t)]
    for trial in abandoned:
        interrupt_trial(study, trial_id_of(trial))
    return len(abandoned)


@dataclass(frozen=True)
class FaultPolicy:
    """How a sweep treats trials that fail.

    Args:
        retries: Times a trial whose worker died is run again with the same params.
        fail_fast: Stop once this many trials have failed in user code and none
            has succeeded; ``None`` never stops.
    """

    retries: int
    fail_fast: int | None


@dataclass
class FailFast:
    """Stops a sweep whose every trial fails in user code, before it burns hours.

    NaN trials do not count as such failures: diverging is a result of the search
    (a learning rate too high), not a study that cannot work.

    Args:
        limit: Stop once this many trials have failed and none has succeeded;
            ``None`` never stops.
    """

    limit: int | None
    failures: int = 0
    successes: int = 0
    first_failure: TrialOutcome | None = None

    def record(self, outcome: TrialOutcome) -> None:
        """Counts a finished trial of this sweep."""
        if outcome.stop_reason == StopReason.INTERRUPTED.value:
            return
        if outcome.state != "FAIL" or outcome.stop_reason != StopReason.ERROR.value:
            self.successes += 1
            return
        self.failures += 1
        self.first_failure = self.first_failure or outcome

    def check(self) -> None:
        """Raises :class:`SweepAborted` once the first ``limit`` trials have all failed."""
        if self.limit is None or self.successes or self.failures < self.limit:
            return
        first = self.first_failure
        assert first is not None
        raise SweepAborted(
            f"the first {self.failures} trials all failed, so the sweep stopped "
            f"(fail_fast={self.limit}). Trial {first.number} failed first: {last_line(first.error)}"
        )
