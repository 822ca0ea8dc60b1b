"""How fast a sweep trains, measured from its trials, and how long it has left."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial

from sweeper.trial._outcome import EPOCHS_RUN_ATTR, counts_as_result


@dataclass(frozen=True)
class TrialPace:
    """A running trial's epochs so far, and when it started and last showed progress.

    Args:
        epochs_done: Epochs it has finished.
        started: When it started, in unix time.
        last_seen: When it last showed progress, in unix time.
        planned: The epochs it runs at most, if known. Defaults to ``None``.
    """

    epochs_done: int
    started: float
    last_seen: float
    planned: int | None = None


def slowest_epoch_s(finished: list[FrozenTrial], running: list[TrialPace]) -> float:
    """The longest mean epoch of any trial, finished or running; ``0.0`` before any epoch ended.

    Args:
        finished: Finished trials; those recording ``epochs_run`` and ``duration_s`` count.
        running: The running trials' paces, up to their last progress.

    Returns:
        Seconds.
    """
    pairs = _finished_epochs_and_seconds(finished)
    pairs += [(float(p.epochs_done), p.last_seen - p.started) for p in running if p.epochs_done]
    return max((seconds / epochs for epochs, seconds in pairs), default=0.0)


def trial_epoch_rate(finished: list[FrozenTrial], running: list[TrialPace], now: float) -> float | None:
    """Epochs one trial trains per second: every trial's epochs over its wall time so far.

    Wall time includes building the model and saving checkpoints, as the sweep spends it.

    Args:
        finished: Finished trials; those recording ``epochs_run`` and ``duration_s`` count.
        running: The running trials' paces.
        now: The current unix time.

    Returns:
        Epochs per second, or ``None`` before any epoch ended.
    """
    pairs = _finished_epochs_and_seconds(finished)
    pairs += [(float(p.epochs_done), now - p.started) for p in running if p.epochs_done and now > p.started]
    seconds = sum(s for _, s in pairs)
    return sum(e for e, _ in pairs) / seconds if seconds > 0 else None


def remaining_epochs(
    n_trials: int | None,
    epoch_budget: int | None,
    results: int,
    trained: int,
    finished: list[FrozenTrial],
    running: list[TrialPace],
) -> float | None:
    """Epochs left to train, whichever ends the sweep first: ``n_trials`` results or the budget.

    Each result still to come is taken to train the mean epochs of the results so far
    (pruning and early stopping included); before any, the running trials' planned epochs.

    Args:
        n_trials: The results the sweep is after, if known.
        epoch_budget: The sweep's epoch budget, if any.
        results: Trials that count toward ``n_trials`` so far.
        trained: Epochs trained so far, running trials included.
        finished: Finished trials.
        running: The running trials' paces.

    Returns:
        Epochs, or ``None`` when neither ``n_trials`` (with a measured mean) nor a
        budget is known.
    """
    estimates = []
    per_trial = _mean_epochs(finished, running)
    if n_trials is not None and per_trial is not None:
        unstarted = max(n_trials - results - len(running), 0)
        # A running trial trains at least the epoch it is in, even past the mean.
        in_flight = sum(max(per_trial - p.epochs_done, 1.0) for p in running)
        estimates.append(unstarted * per_trial + in_flight)
    if epoch_budget is not None:
        estimates.append(float(max(epoch_budget - trained, 0)))
    return min(estimates, default=None)


def _mean_epochs(finished: list[FrozenTrial], running: list[TrialPace]) -> float | None:
    epochs = [number_or_none(t.user_attrs.get(EPOCHS_RUN_ATTR)) for t in finished if counts_as_result(t)]
    known = [e for e in epochs if e is not None]
    if known:
        return sum(known) / len(known)
    return max((float(p.planned) for p in running if p.planned), default=None)


def _finished_epochs_and_seconds(finished: list[FrozenTrial]) -> list[tuple[float, float]]:
    pairs = [
        (number_or_none(t.user_attrs.get(EPOCHS_RUN_ATTR)), number_or_none(t.user_attrs.get("duration_s")))
        for t in finished
    ]
    return [(e, s) for e, s in pairs if e and s]


def number_or_none(value: Any) -> float | None:
    """A number from a user attr or a JSON file; ``None`` for anything else (a bool, a string, nothing)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
