"""How a trial ended, and which trials count toward ``n_trials``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from optuna.trial import FrozenTrial, TrialState


class StopReason(str, Enum):
    """Why a trial stopped training."""

    EARLY_STOPPING = "early_stopping"
    PRUNED = "pruned"
    MAX_EPOCHS = "max_epochs"
    NAN = "nan"
    ERROR = "error"
    INTERRUPTED = "interrupted"
    # A user's own Keras callback set model.stop_training.
    CALLBACK = "callback"


# Cut short by the sweep itself, not a result of the search: retried, not counted.
NOT_RESULTS = frozenset({StopReason.INTERRUPTED.value})
STOP_REASON_ATTR = "stop_reason"


def counts_as_result(trial: FrozenTrial) -> bool:
    """Whether a trial counts toward ``n_trials``: COMPLETE, PRUNED, or FAIL of its own making."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if trial.state != TrialState.FAIL:
        return False
    return trial.user_attrs.get(STOP_REASON_ATTR) not in NOT_RESULTS


def count_results(trials: list[FrozenTrial]) -> int:
    """How many of ``trials`` count toward ``n_trials``."""
    return sum(counts_as_result(t) for t in trials)


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
    """

    number: int
    state: str
    value: float | None
    stop_reason: str
    error: str | None = None
    pid: int = 0
