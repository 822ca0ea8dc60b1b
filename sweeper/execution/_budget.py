"""How many more trials a study needs, counted across every process that runs it.

Every process that runs a study's trials (a ``sweeper run`` driver, a ``sweeper
worker``, a Dask worker loop) counts the same way, from the storage: the results
so far plus the trials running anywhere. So two runs of one study share its
``n_trials`` instead of each running its own, and when two ask for the last trial
at once, the lower trial number keeps it.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper._compat import trial_id_of, was_enqueued
from sweeper.execution._faults import fail_trial
from sweeper.trial._outcome import StopReason, count_results, retried_by_heartbeat


def running(trials: list[FrozenTrial]) -> int:
    """How many of ``trials`` are RUNNING, in this process or any other."""
    return sum(t.state == TrialState.RUNNING for t in trials)


def trials_wanted(trials: list[FrozenTrial], n_trials: int) -> int:
    """How many more trials to start: ``n_trials`` less the results and the trials running anywhere."""
    return max(0, n_trials - count_results(trials) - running(trials))


def end_if_surplus(study: optuna.Study, number: int, n_trials: int) -> bool:
    """Ends the trial just asked if trials before it already fill the budget.

    Two processes may both see one trial missing and both ask. The lower trial
    number wins; the other is ended as ``interrupted`` (not a result), and a queued
    trial it took (a retry, a grid cell) goes back to the queue.

    Args:
        study: The study.
        number: The number of the trial just asked.
        n_trials: Results the study should hold.

    Returns:
        Whether the trial was surplus and is now ended.
    """
    trials = study.get_trials(deepcopy=False)
    retried = retried_by_heartbeat(trials)  # a reaped trial's retry may be this very trial, so look at all
    earlier = [t for t in trials if t.number < number and t.number not in retried]
    if count_results(earlier) + running(earlier) < n_trials:
        return False
    mine = next(t for t in trials if t.number == number)
    fail_trial(
        study,
        trial_id_of(mine),
        StopReason.INTERRUPTED,
        "not needed: the study already had its trials",
        retry=was_enqueued(mine),
    )
    return True
