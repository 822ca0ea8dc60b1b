"""Heartbeats for trials whose worker no parent process watches: Optuna's RDB heartbeat.

On one machine the driver notices a dead worker the moment it dies. A worker on
another machine (Dask, ``sweeper worker``) has no such parent, so each running
trial records a heartbeat in the shared RDB storage, and any live worker (or the
driver) fails a trial whose heartbeat went stale and queues its retry with
Optuna's ``RetryHeartbeatStaleTrialCallback``. The settings are not stored in the
database, so every client gets them from :class:`HeartbeatPolicy`.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.storages import BaseStorage

from sweeper._compat import has_heartbeat, storage_of


@dataclass(frozen=True)
class HeartbeatPolicy:
    """How often a running trial says it is alive, and how long silence means dead.

    Args:
        interval_s: Seconds between heartbeats. Defaults to ``10``.
        grace_period_s: Seconds without a heartbeat after which a trial is failed
            and retried. Defaults to ``40``.
    """

    interval_s: int = 10
    grace_period_s: int = 40

    def __post_init__(self) -> None:
        if self.interval_s < 1 or self.grace_period_s <= self.interval_s:
            raise ValueError(f"need interval_s >= 1 and grace_period_s > interval_s, got {self}")

    @classmethod
    def from_env(cls) -> HeartbeatPolicy:
        """The policy from ``SWEEPER_HEARTBEAT_S`` and ``SWEEPER_GRACE_PERIOD_S``, else the defaults."""
        interval = int(os.environ.get("SWEEPER_HEARTBEAT_S", cls.interval_s))
        grace = int(os.environ.get("SWEEPER_GRACE_PERIOD_S", max(cls.grace_period_s, 4 * interval)))
        return cls(interval, grace)

    def rdb_kwargs(self, retries: int) -> dict[str, Any]:
        """``RDBStorage`` keyword arguments: heartbeat, grace period, and retry of stale trials."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=retries)
        return {
            "heartbeat_interval": self.interval_s,
            "grace_period": self.grace_period_s,
            "heartbeat_stale_trial_callback": retry,
        }


@contextmanager
def beating(storage: BaseStorage, trial_id: int) -> Iterator[None]:
    """Records the trial's heartbeat now and every interval until the block ends."""
    if not has_heartbeat(storage):
        yield
        return
    storage.record_heartbeat(trial_id)  # at once: a trial with no heartbeat row is never reaped
    stop = threading.Event()
    thread = threading.Thread(target=_beat, args=(storage, trial_id, stop), name="sweeper-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _beat(storage: Any, trial_id: int, stop: threading.Event) -> None:
    while not stop.wait(storage.get_heartbeat_interval()):
        try:
            storage.record_heartbeat(trial_id)
        except Exception:
            pass  # a lost connection shows as a stale trial, which is the point


def reap_stale_trials(study: optuna.Study) -> None:
    """Fails trials whose heartbeat went stale, queuing their retries (RDB storages only)."""
    if not has_heartbeat(storage_of(study)):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def ask(study: optuna.Study) -> optuna.Trial:
    """``study.ask()``, without Optuna's warning that heartbeats go with ``optimize``.

    sweeper records the heartbeats itself (:func:`beating`) around every trial.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return study.ask()
