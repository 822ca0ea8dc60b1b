"""Who runs a RUNNING trial, and whether that process is still alive.

Several processes may run one study's trials at once: two ``sweeper run`` of the
same study, or ``sweeper worker`` processes beside them. Each records itself on the
trials it asks for (the *owner*), and the worker process running a trial records
itself too. A RUNNING trial is abandoned only when both are known to be gone: on
this host, their processes have exited. A trial owned on another host is left to
the RDB heartbeat (``storage/_heartbeat.py``); a journal file cannot tell.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import optuna
import psutil
from optuna.trial import FrozenTrial, TrialState

from sweeper._compat import has_heartbeat, storage_of
from sweeper.storage._heartbeat import ask

OWNER_ATTR = "owner"
WORKER_ATTR = "worker"
# A trial asked this recently may not carry its owner yet: its asker is about to record it.
UNCLAIMED_GRACE_S = 60.0


def this_process() -> dict[str, Any]:
    """This process, as trials record it: host, pid, and start time (so a reused pid is not it)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": psutil.Process().create_time()}


def ask_owned(study: optuna.Study) -> optuna.Trial:
    """``study.ask()``, recording this process as the new trial's owner.

    Args:
        study: The study.

    Returns:
        The new RUNNING trial.
    """
    trial = ask(study)
    trial.set_user_attr(OWNER_ATTR, this_process())
    return trial


def is_abandoned(trial: FrozenTrial) -> bool:
    """Whether a RUNNING trial's owner and worker are both known to be gone.

    Args:
        trial: A RUNNING trial.

    Returns:
        ``True`` when every process recorded on it has exited on this host, or when
        it records none and was asked long ago (a run killed between its ask and
        its record, or a study from before sweeper recorded owners).
    """
    recorded = [trial.user_attrs.get(key) for key in (OWNER_ATTR, WORKER_ATTR)]
    processes = [p for p in recorded if isinstance(p, dict)]
    if not processes:
        started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
        return time.time() - started > UNCLAIMED_GRACE_S
    return not any(_may_be_alive(process) for process in processes)


def can_be_recovered(trial: FrozenTrial, study: optuna.Study) -> bool:
    """Whether a trial is RUNNING and will end, or be found abandoned, from here.

    On a storage with heartbeats every running trial will. On a journal file, only
    trials whose processes all run on this host (or that record none): a trial
    owned on another machine cannot be checked, so nobody should wait for it.

    Args:
        trial: Any trial.
        study: Its study.

    Returns:
        Whether waiting for it is worthwhile.
    """
    if trial.state != TrialState.RUNNING:
        return False
    if has_heartbeat(storage_of(study)):
        return True
    recorded = [trial.user_attrs.get(key) for key in (OWNER_ATTR, WORKER_ATTR)]
    here = socket.gethostname()
    return all(p.get("host") == here for p in recorded if isinstance(p, dict))


def _may_be_alive(process: dict[str, Any]) -> bool:
    if process.get("host") != socket.gethostname():
        return True  # another machine's process: no way to tell from here
    try:
        found = psutil.Process(int(process["pid"]))
        if found.status() == psutil.STATUS_ZOMBIE:
            return False
        # A pid the OS gave to a new process since: not the one that asked.
        return abs(found.create_time() - float(process["started"])) < 1.0
    except psutil.AccessDenied:
        return True  # it exists; another user's process
    except (psutil.NoSuchProcess, KeyError, ValueError, TypeError):
        return False
