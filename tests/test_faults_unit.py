"""The driver's fault rules on a real in-memory Optuna storage: failing, retrying, recovering, stopping early."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import warnings

import optuna
import psutil
import pytest
from optuna.trial import TrialState

from sweeper import SweepAborted
from sweeper.backends.local._driver import SweepDriver
from sweeper.execution._budget import end_if_surplus
from sweeper.execution._faults import FailFast, FaultPolicy, fail_trial, recover_trials
from sweeper.storage._open import open_storage
from sweeper.trial._config import SweepConfig
from sweeper.trial._outcome import StopReason, TrialOutcome, count_results
from sweeper.trial._ownership import OWNER_ATTR, WORKER_ATTR, ask_owned, this_process


@pytest.fixture
def study():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=optuna.storages.InMemoryStorage())


def test_a_retry_has_the_same_params_and_stands_in_for_the_original(study):
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)})
    trial.set_user_attr("repeat", 2)
    assert fail_trial(study, trial._trial_id, StopReason.ERROR, "the worker died", retry=True)
    retry = study.ask()
    assert retry.suggest_float("lr", 1e-4, 1.0, log=True) == trial.params["lr"]  # enqueued params are fixed
    assert retry.user_attrs == {"repeat": 2, "retry_of": trial.number, "attempt": 2}
    study.tell(retry, 0.5)
    original = study.trials[trial.number]
    assert original.user_attrs["error"] == "the worker died" and original.user_attrs["retried"]
    assert count_results(study.get_trials()) == 1


@pytest.mark.parametrize(("retries", "retried"), [(1, True), (0, False)])
def test_a_dead_workers_trial_is_retried_while_retries_last_and_then_counts_as_failed(
    study, tmp_path, retries, retried
):
    driver = SweepDriver(study, SweepConfig("study.py", "unused", str(tmp_path)), None, 2, FaultPolicy(retries, None))
    trial = ask_owned(study)
    outcome = driver._worker_died(trial, "the worker process running this trial died (exit code SIGKILL(-9))")
    assert (outcome.state, outcome.stop_reason, outcome.counted) == ("FAIL", "error", not retried)
    assert ("retried with the same params (attempt 2)" in outcome.error) == retried
    queued = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert len(queued) == int(retried) and count_results(study.get_trials()) == int(not retried)


def test_a_trial_its_worker_already_ended_is_left_alone(study):
    trial = study.ask()
    study.tell(trial, 0.3)
    assert not fail_trial(study, trial._trial_id, StopReason.ERROR, "late", retry=True)
    assert study.trials[0].state == TrialState.COMPLETE and len(study.trials) == 1


def dead_process() -> dict:
    """A process record whose process has exited (a killed earlier run)."""
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    record = {**this_process(), "pid": finished.pid, "started": psutil.Process(finished.pid).create_time()}
    finished.wait()
    return record


def test_trials_whose_processes_are_gone_are_interrupted_and_queued_again(study):
    done, abandoned = study.ask(), study.ask()
    study.tell(done, 1.0)
    abandoned.set_user_attr(OWNER_ATTR, dead_process())
    abandoned.set_user_attr(WORKER_ATTR, dead_process())
    assert recover_trials(study) == 1
    ended = study.trials[abandoned.number]
    assert ended.state == TrialState.FAIL and ended.user_attrs["stop_reason"] == "interrupted"
    assert [t.state for t in study.trials][-1] == TrialState.WAITING
    assert count_results(study.get_trials()) == 1


def test_a_live_run_keeps_its_running_trials(study):
    """Another `sweeper run` of the study is alive: its trials are its own, whatever this run finds."""
    mine = ask_owned(study)  # owned by this (live) process
    worker_alive = study.ask()
    worker_alive.set_user_attr(OWNER_ATTR, dead_process())  # its driver died, but its worker still trains
    worker_alive.set_user_attr(WORKER_ATTR, this_process())
    elsewhere = study.ask()
    elsewhere.set_user_attr(OWNER_ATTR, {**dead_process(), "host": "another-machine"})  # cannot tell: keep
    reused = study.ask()
    reused.set_user_attr(OWNER_ATTR, {**this_process(), "started": 0.0})  # its pid now belongs to another process
    assert recover_trials(study) == 1
    states = {t.number: t.state for t in study.get_trials()}
    assert [states[t.number] for t in (mine, worker_alive, elsewhere)] == [TrialState.RUNNING] * 3
    assert states[reused.number] == TrialState.FAIL


def test_an_unclaimed_trial_is_left_alone_until_its_grace_period_ends(study, monkeypatch):
    """Asked a moment ago, its asker may not have recorded itself yet; long unclaimed, it was abandoned."""
    study.ask()
    assert recover_trials(study) == 0
    monkeypatch.setattr("sweeper.trial._ownership.UNCLAIMED_GRACE_S", -1.0)
    assert recover_trials(study) == 1


def outcome(number, state="FAIL", reason="error", error="Traceback...\nValueError: bad"):
    return TrialOutcome(number, state, None, reason, error)


def test_fail_fast_stops_after_k_failures_with_the_first_message():
    rule = FailFast(3)
    for number in range(2):
        rule.record(outcome(number, error=f"Traceback\nValueError: bad {number}"))
        rule.check()
    rule.record(outcome(2))
    with pytest.raises(SweepAborted, match=r"first 3 trials all failed.*Trial 0 failed first: ValueError: bad 0"):
        rule.check()


@pytest.mark.parametrize(
    "other", [outcome(0, "COMPLETE", "max_epochs"), outcome(0, "PRUNED", "pruned"), outcome(0, "FAIL", "diverged")]
)
def test_fail_fast_never_stops_a_sweep_that_produced_a_result(other):
    with_result, without = FailFast(2), FailFast(2)
    with_result.record(other)
    for number in range(1, 6):
        with_result.record(outcome(number))
        without.record(outcome(number))
    with pytest.raises(SweepAborted, match="Trial 1 failed first"):
        without.check()
    with_result.check()  # the same five failures, after one result: the study can work
    assert (with_result.successes, with_result.failures) == (1, 5)


def test_fail_fast_ignores_interrupted_trials():
    rule = FailFast(1)
    rule.record(outcome(0, reason="interrupted"))
    rule.check()
    assert (rule.successes, rule.failures) == (0, 0)  # neither a result nor a failure
    rule.record(outcome(1))
    with pytest.raises(SweepAborted, match="Trial 1 failed first"):
        rule.check()


def test_fail_fast_none_counts_failures_but_never_stops():
    off = FailFast(None)
    for number in range(10):
        off.record(outcome(number))
    off.check()
    assert off.failures == 10 and off.first_failure.number == 0


def ask_and_tell(storage_url: str, study_name: str, trials: int) -> None:
    """A worker with a trivial objective: the storage is the only thing it stresses."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage_url))
    for _ in range(trials):
        trial = study.ask()
        x = trial.suggest_float("x", -1.0, 1.0)
        trial.set_user_attr("pid", multiprocessing.current_process().pid)
        trial.report(x, step=0)
        study.tell(trial, x * x)


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_eight_workers_on_one_storage_lose_and_duplicate_no_trial(tmp_path, kind):
    url = str(tmp_path / "journal.log") if kind == "journal" else f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="contention", storage=open_storage(url))
    workers, per_worker = 8, 12
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=ask_and_tell, args=(url, "contention", per_worker)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
    assert [p.exitcode for p in processes] == [0] * workers  # a "database is locked" would exit 1
    trials = optuna.load_study(study_name="contention", storage=open_storage(url)).get_trials()
    assert sorted(t.number for t in trials) == list(range(workers * per_worker))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["pid"] for t in trials}) == workers


def _reap_as_optuna_does(study, trial):
    """What ``fail_stale_trials`` does to a trial whose heartbeat went stale: FAIL, then queue a retry."""
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    frozen = study._storage.get_trial(trial._trial_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)(study, frozen)


def test_the_retry_of_a_reaped_trial_is_never_surplus(study):

    # Trials 0, 2, 3 fill three of four slots; trial 1's worker died and Optuna queued its retry as trial 4.
    trials = [study.ask() for _ in range(4)]
    for trial in (trials[0], trials[2]):
        study.tell(trial, 0.5)
    _reap_as_optuna_does(study, trials[1])
    retry = study.ask()
    assert retry.number == 4 and study.trials[4].system_attrs["failed_trial"] == 1
    assert not end_if_surplus(study, retry.number, n_trials=4)
    assert study.trials[4].state == TrialState.RUNNING
    # A fifth fresh trial would be one too many: ended as interrupted, not a result.
    extra = study.ask()
    assert end_if_surplus(study, extra.number, n_trials=4)
    assert study.trials[extra.number].user_attrs["stop_reason"] == "interrupted"
