"""Where a sweep is: its running trials, its totals, its estimated time left, and whether it runs at all.

Read from the storage and the trials' progress files only; nothing here writes.
``execution/_status_view.py`` renders it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from sweeper.callbacks._progress_record import PROGRESS_FILE, read_progress
from sweeper.execution._pace import TrialPace, number_or_none, remaining_epochs, slowest_epoch_s, trial_epoch_rate
from sweeper.storage._catalog import best_complete
from sweeper.trial._outcome import MAX_EPOCHS_ATTR, counts_as_result, epochs_trained, retried_by_heartbeat
from sweeper.trial._ownership import is_abandoned

# A trial silent for this long, or STALE_EPOCHS of its sweep's slowest epoch if longer, is not progressing.
STALE_AFTER_S = 600.0
STALE_EPOCHS = 3.0
COLUMNS = [
    "trial",
    "worker",
    "device",
    "epoch",
    "epochs",
    "batch",
    "steps",
    "value",
    "best",
    "elapsed_s",
    "updated_s_ago",
    "source",
    "health",
]

# Counts stay whole numbers in the table, missing ones included (pandas' nullable integers).
INTEGER_COLUMNS = dict.fromkeys(["trial", "epoch", "epochs", "batch", "steps"], "Int64")


class Health(str, Enum):
    """What a RUNNING trial's last signs of life say."""

    RUNNING = "running"
    # Nothing updated for longer than the sweep's stale limit: stuck, or killed elsewhere.
    SILENT = "silent"
    # Every process recorded on it has exited on this host: a killed run left it RUNNING.
    EXITED = "exited"


@dataclass(frozen=True)
class StudyStatus:
    """A sweep's status at one moment.

    Args:
        study: The study's name.
        monitor: The monitored quantity, or ``None`` when the study does not record it.
        running: One row per RUNNING trial, with the columns ``COLUMNS``: ``trial``,
            ``worker`` (``host:pid``), ``device``, ``epoch`` (1-based, the epoch
            being trained), ``epochs``, ``batch`` (batches finished in that epoch),
            ``steps`` (batches per epoch), ``value`` (the last epoch's), ``best``,
            ``elapsed_s``, ``updated_s_ago``, ``source`` (``progress`` for the
            trial's progress file, ``optuna`` for its intermediate values) and
            ``health`` (a ``Health`` value). Missing values are NA.
        complete: COMPLETE trials that count toward ``n_trials``.
        pruned: PRUNED trials.
        failed: FAIL trials of their own making.
        n_trials: The results the sweep is after, or ``None`` when the study does
            not record it.
        epoch_budget: The sweep's epoch budget, or ``None``.
        epochs_trained: Epochs the study's trials have trained, running ones included.
        best_value: The best COMPLETE trial's value, or ``None``.
        best_trial: Its number, or ``None``.
        epochs_per_s: Epochs the sweep trains per second, at its measured rate and
            its running trials; ``None`` when unknown.
        eta_s: Seconds until the sweep ends, estimated; ``None`` when it is not
            running or has no ``n_trials`` nor epoch budget to measure against.
        is_running: Whether any RUNNING trial is progressing.
        reason: Why it is, or is not, running: ``"2 trial(s) progressing"``,
            ``"no trial is RUNNING"``, or which trials exited or went silent.
    """

    study: str
    monitor: str | None
    running: pd.DataFrame
    complete: int
    pruned: int
    failed: int
    n_trials: int | None
    epoch_budget: int | None
    epochs_trained: int
    best_value: float | None
    best_trial: int | None
    epochs_per_s: float | None
    eta_s: float | None
    is_running: bool
    reason: str

    @property
    def results(self) -> int:
        """Trials that count toward ``n_trials``."""
        return self.complete + self.pruned + self.failed


@dataclass(frozen=True)
class _Observed:
    """A RUNNING trial, with what its progress file (if any) says."""

    trial: FrozenTrial
    progress: dict[str, Any] | None
    pace: TrialPace


def study_status(study: optuna.Study, trials_dir: Path, now: float | None = None) -> StudyStatus:
    """Reads a sweep's status from its storage and its trials' folders.

    Args:
        study: The Optuna study.
        trials_dir: Its trials' folder, ``runs/<study>/trials``.
        now: The current unix time. Defaults to ``time.time()``.

    Returns:
        The status.
    """
    now = time.time() if now is None else now
    trials = study.get_trials(deepcopy=False)
    observed = [_observe(t, trials_dir / str(t.number)) for t in trials if t.state == TrialState.RUNNING]
    finished = [t for t in trials if t.state.is_finished()]
    paces = [o.pace for o in observed]
    stale_after = max(STALE_AFTER_S, STALE_EPOCHS * slowest_epoch_s(finished, paces))
    health = [_health(o, now, stale_after) for o in observed]
    study_epochs = _int_or_none(study.user_attrs.get("epochs"))
    rows = [_row(o, h, now, study_epochs) for o, h in zip(observed, health, strict=True)]
    totals = _totals(study, trials)
    return StudyStatus(
        **totals,
        **_pace(totals, finished, paces, live=health.count(Health.RUNNING), now=now),
        running=pd.DataFrame(rows, columns=COLUMNS).astype(INTEGER_COLUMNS),
        is_running=Health.RUNNING in health,
        reason=_reason(observed, health, now, stale_after),
    )


def _pace(
    totals: dict[str, Any], finished: list[FrozenTrial], paces: list[TrialPace], live: int, now: float
) -> dict[str, Any]:
    """The epochs trained, the sweep's rate over its ``live`` trials, and its time left."""
    trained = epochs_trained(finished) + sum(p.epochs_done for p in paces)
    rate = trial_epoch_rate(finished, paces, now)
    epochs_per_s = rate * live if rate is not None and live else None
    results = totals["complete"] + totals["pruned"] + totals["failed"]
    left = remaining_epochs(totals["n_trials"], totals["epoch_budget"], results, trained, finished, paces)
    eta_s = None if left is None or not epochs_per_s else left / epochs_per_s
    return {"epochs_trained": trained, "epochs_per_s": epochs_per_s, "eta_s": eta_s}


def _totals(study: optuna.Study, trials: list[FrozenTrial]) -> dict[str, Any]:
    """The results by state (counted as the progress line counts them), the best, and the study's budget."""
    retried = retried_by_heartbeat(trials)
    counts = Counter(t.state.name for t in trials if counts_as_result(t) and t.number not in retried)
    best = best_complete(trials, study.direction == optuna.study.StudyDirection.MAXIMIZE)
    attrs = study.user_attrs
    return {
        "study": study.study_name,
        "monitor": attrs.get("monitor"),
        "complete": counts["COMPLETE"],
        "pruned": counts["PRUNED"],
        "failed": counts["FAIL"],
        "n_trials": _int_or_none(attrs.get("n_trials")),
        "epoch_budget": _int_or_none(attrs.get("epoch_budget")),
        "best_value": None if best is None else best.value,
        "best_trial": None if best is None else best.number,
    }


def _observe(trial: FrozenTrial, trial_dir: Path) -> _Observed:
    progress = read_progress(trial_dir / PROGRESS_FILE)
    asked = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
    if progress is not None:
        started = number_or_none(progress.get("started")) or asked
        pace = TrialPace(
            epochs_done=_int_or_none(progress.get("epochs_done")) or 0,
            started=started,
            last_seen=number_or_none(progress.get("updated")) or started,
            planned=_int_or_none(progress.get("epochs")),
        )
        return _Observed(trial, progress, pace)
    # No progress file (a runner that writes none, or a trial not fitting yet): its own files
    # and its start are the only signs of life, and the pruning bridge's reports count its epochs.
    epochs_done = max(trial.intermediate_values, default=-1) + 1
    return _Observed(trial, None, TrialPace(epochs_done, asked, max(asked, _newest_mtime(trial_dir))))


def _newest_mtime(folder: Path) -> float:
    try:
        return max((path.stat().st_mtime for path in folder.rglob("*") if path.is_file()), default=0.0)
    except OSError:
        return 0.0  # a file removed while walking: the trial's other signs decide


def _health(observed: _Observed, now: float, stale_after: float) -> Health:
    if is_abandoned(observed.trial):
        return Health.EXITED
    return Health.RUNNING if now - observed.pace.last_seen <= stale_after else Health.SILENT


def _row(observed: _Observed, health: Health, now: float, study_epochs: int | None) -> dict[str, Any]:
    trial, progress = observed.trial, observed.progress
    attrs = trial.user_attrs
    row = {
        "trial": trial.number,
        "worker": _worker(attrs),
        "device": attrs.get("device", "cpu"),
        "elapsed_s": now - trial.datetime_start.timestamp() if trial.datetime_start else None,
        "updated_s_ago": max(0.0, now - observed.pace.last_seen),
        "source": "optuna" if progress is None else "progress",
        "health": health.value,
    }
    if progress is None:
        epochs = _int_or_none(attrs.get(MAX_EPOCHS_ATTR, study_epochs))
        done = observed.pace.epochs_done
        values = trial.intermediate_values
        # The pruning bridge reports the best value so far, not the epoch's own: no current value.
        best = values[max(values)] if values else None
        return {**row, "epoch": done + 1 if epochs is None else min(done + 1, epochs), "epochs": epochs, "best": best}
    batch = _int_or_none(progress.get("batch"))
    return {
        **row,
        "epoch": (_int_or_none(progress.get("epoch")) or 0) + 1,
        "epochs": _int_or_none(progress.get("epochs")),
        "batch": None if batch is None else batch + 1,
        "steps": _int_or_none(progress.get("steps")),
        "value": number_or_none(progress.get("value")),
        "best": number_or_none(progress.get("best")),
    }


def _worker(attrs: dict[str, Any]) -> str | None:
    host, pid = attrs.get("host"), attrs.get("pid")
    if host is None:
        return None  # asked, but no worker has taken it up yet
    return f"{host}:{pid}" if pid is not None else str(host)


def _reason(observed: list[_Observed], health: list[Health], now: float, stale_after: float) -> str:
    if not observed:
        return "no trial is RUNNING"
    exited = [o.trial.number for o, h in zip(observed, health, strict=True) if h == Health.EXITED]
    silent = [o for o, h in zip(observed, health, strict=True) if h == Health.SILENT]
    parts = []
    if exited:
        parts.append(
            f"the processes of trial(s) {_numbers(exited)} have exited: a killed run, which `sweeper run` recovers"
        )
    if silent:
        quiet = min(now - o.pace.last_seen for o in silent)
        parts.append(
            f"trial(s) {_numbers([o.trial.number for o in silent])} showed no progress for {format_duration(quiet)}"
            f" (more than {format_duration(stale_after)}): stuck, or killed on another machine"
        )
    live = health.count(Health.RUNNING)
    return "; ".join([f"{live} trial(s) progressing", *parts] if live else parts)


def _numbers(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def format_duration(seconds: float) -> str:
    """``45s``, ``3m12s`` or ``26h05m``: a duration as the status shows it."""
    whole = int(max(seconds, 0.0))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _int_or_none(value: Any) -> int | None:
    number = number_or_none(value)
    return None if number is None else int(number)
