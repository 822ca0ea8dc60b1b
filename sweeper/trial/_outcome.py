"""What workers send back (a probe's summary, a trial's outcome), and what counts toward ``n_trials``.

Nothing here imports Keras: the driver unpickles these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from optuna.trial import FrozenTrial, TrialState

from sweeper._compat import heartbeat_retry_history
from sweeper.storage._retention import RETRIED_ATTR
from sweeper.study._direction import Mode
from sweeper.study._study import DEFAULT_KEEP_CHECKPOINTS


class StopReason(str, Enum):
    """Why a trial stopped training."""

    EARLY_STOPPING = "early_stopping"
    PRUNED = "pruned"
    MAX_EPOCHS = "max_epochs"
    DIVERGED = "diverged"
    # Past the trial time limit: stopped at a batch end (a result), or hung and killed (FAIL).
    TIMEOUT = "timeout"
    ERROR = "error"
    INTERRUPTED = "interrupted"
    # A user's own Keras callback set model.stop_training.
    CALLBACK = "callback"


# What studies written before the rename stored for a diverged trial; pandas reads "nan" as missing.
LEGACY_STOP_REASONS = {"nan": StopReason.DIVERGED.value}
# Cut short by the sweep itself, not a result of the search: retried, not counted.
NOT_RESULTS = frozenset({StopReason.INTERRUPTED.value})
STOP_REASON_ATTR = "stop_reason"
EPOCHS_RUN_ATTR = "epochs_run"
# The study's epochs, which the trial ran unless something stopped it: the reports' replay needs it.
MAX_EPOCHS_ATTR = "max_epochs"
# A study attribute: set by a driver that was stopped, so worker loops elsewhere stop too.
STOP_REQUESTED_ATTR = "stop_requested"
LOST_WORKER_MESSAGE = "its worker stopped sending heartbeats: the process died or lost the storage"


def counts_as_result(trial: FrozenTrial) -> bool:
    """Whether a trial counts toward ``n_trials``.

    COMPLETE and PRUNED trials count, and so do FAIL trials of their own making
    (``diverged``, ``error``). An interrupted trial does not, nor does one whose worker
    died and which was retried: its retry counts instead.
    """
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if trial.state != TrialState.FAIL:
        return False
    if trial.user_attrs.get(RETRIED_ATTR):
        return False
    return trial.user_attrs.get(STOP_REASON_ATTR) not in NOT_RESULTS


def count_results(trials: list[FrozenTrial]) -> int:
    """How many of ``trials`` count toward ``n_trials``.

    A trial failed for a stale heartbeat carries no attributes (Optuna fails it
    after the fact); its retry names it in ``retry_history``, so it is not counted.
    """
    retried = retried_by_heartbeat(trials)
    return sum(counts_as_result(t) and t.number not in retried for t in trials)


def epochs_trained(trials: list[FrozenTrial]) -> int:
    """Epochs the trials have trained: a finished trial's ``epochs_run``, a running one's reports so far."""
    return sum(int(t.user_attrs.get(EPOCHS_RUN_ATTR, len(t.intermediate_values))) for t in trials)


def epoch_budget_spent(trials: list[FrozenTrial], epoch_budget: int | None) -> bool:
    """Whether the trials have trained ``epoch_budget`` epochs; never, without a budget."""
    return epoch_budget is not None and epochs_trained(trials) >= epoch_budget


def retried_by_heartbeat(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the trials Optuna reaped for a stale heartbeat and queued again."""
    numbers: set[int] = set()
    for trial in trials:
        numbers.update(heartbeat_retry_history(trial))
    return numbers


def stop_reason_of(trial: FrozenTrial) -> str | None:
    """The trial's stop reason; ``error`` for a FAIL trial Optuna reaped for a stale heartbeat.

    A study written before a stop reason was renamed reports it under its new name.
    """
    reason = trial.user_attrs.get(STOP_REASON_ATTR)
    if reason is None and trial.state == TrialState.FAIL:
        return StopReason.ERROR.value
    return LEGACY_STOP_REASONS.get(reason, reason)


def error_of(trial: FrozenTrial) -> str | None:
    """The trial's stored error; for a reaped trial, why it was reaped."""
    error = trial.user_attrs.get("error")
    if error is None and trial.state == TrialState.FAIL and STOP_REASON_ATTR not in trial.user_attrs:
        return LOST_WORKER_MESSAGE
    return error


@dataclass(frozen=True)
class TrialOutcome:
    """What a worker sends back about one trial.

    Args:
        number: The trial number.
        state: The final state's name: ``COMPLETE``, ``PRUNED`` or ``FAIL``.
        value: The best monitored value, or ``None``.
        stop_reason: A ``StopReason`` value.
        error: The error message for a failed trial. Defaults to ``None``.
        pid: The worker's process id. Defaults to ``0``.
        counted: Whether it counts toward ``n_trials`` (a retried trial does not).
            Defaults to ``True``.
        worker_rss_mb: The worker's RSS after the trial, for recycling it.
            Defaults to ``None``.
        replace_worker: The worker's GPU context broke: it must run no further trial.
            Defaults to ``False``.
    """

    number: int
    state: str
    value: float | None
    stop_reason: str
    error: str | None = None
    pid: int = 0
    counted: bool = True
    worker_rss_mb: float | None = None
    replace_worker: bool = False


def outcome_of_trial(trial: FrozenTrial) -> TrialOutcome:
    """The outcome a finished trial's storage record tells."""
    attrs = trial.user_attrs
    value = trial.value if trial.value is not None else attrs.get("best_value")
    return TrialOutcome(
        number=trial.number,
        state=trial.state.name,
        value=value,
        stop_reason=str(stop_reason_of(trial)),
        error=error_of(trial),
        pid=int(attrs.get("pid", 0)),
        counted=counts_as_result(trial),
    )


@dataclass(frozen=True)
class ProbeResult:
    """What the driver needs to know about a study, learnt in a worker.

    The driver never imports TensorFlow: a worker loads the study file, builds one
    model, and sends back this summary.

    Args:
        name: The study's name.
        monitor: The monitored quantity.
        mode: The monitor's direction by Keras's rule, ``"min"`` or ``"max"``.
        n_trials: The study's ``n_trials``.
        timeout: The study's ``timeout``.
        sampler: The driver's sampler, pickled; ``None`` when it cannot be pickled.
        warnings: Warnings raised while loading the study file, for the driver to show.
        logged_keys: The keys the model logs each epoch.
        planned_trials: ``(params, user_attrs)`` of trials to enqueue when the study
            is created: a grid's every cell for every repeat. Defaults to none.
        retries: The study's ``retries``. Defaults to ``1``.
        fail_fast: The study's ``fail_fast``. Defaults to ``3``.
        epoch_budget: The study's ``epoch_budget``. Defaults to ``None``.
        trial_timeout: The study's ``trial_timeout``. Defaults to ``None``.
        epochs: The study's ``epochs``. Defaults to ``None``.
        keep_checkpoints: The study's ``keep_checkpoints``; ``None`` keeps all.
            Defaults to ``5``.
    """

    name: str
    monitor: str
    mode: Mode
    n_trials: int
    timeout: float | None
    sampler: bytes | None
    warnings: tuple[str, ...]
    logged_keys: tuple[str, ...]
    planned_trials: tuple[tuple[dict, dict], ...] = ()
    retries: int = 1
    fail_fast: int | None = 3
    epoch_budget: int | None = None
    trial_timeout: float | None = None
    epochs: int | None = None
    keep_checkpoints: int | None = DEFAULT_KEEP_CHECKPOINTS

    @property
    def direction(self) -> str:
        return "maximize" if self.mode == "max" else "minimize"


def last_line(error: str | None) -> str:
    """The exception line of a stored traceback."""
    if not isinstance(error, str) or not error.strip():
        return "no error recorded"
    return error.strip().splitlines()[-1]


def raised_at(error: str | None) -> str | None:
    """The innermost ``File "...", line N, in f`` of a stored traceback, if it has one."""
    if not isinstance(error, str):
        return None
    frames = [line.strip() for line in error.splitlines() if line.strip().startswith('File "')]
    return frames[-1] if frames else None
