"""Each private API sweeper relies on (all wrapped in sweeper/_compat.py), checked on the installed versions.

An Optuna, Keras or joblib upgrade that moves one of them fails its test here, by name.
"""

import io
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import optuna
import pytest
from joblib.externals.loky import ProcessPoolExecutor
from joblib.externals.loky.process_executor import BrokenProcessPool

from sweeper import _compat


@pytest.fixture
def study():
    return optuna.create_study(storage=optuna.storages.InMemoryStorage())


def test_storage_of_is_the_storage_holding_the_studys_trials(study):
    trial = study.ask()
    storage = _compat.storage_of(study)
    assert isinstance(storage, optuna.storages.BaseStorage)
    assert storage.get_trial(_compat.trial_id_of(trial)).number == trial.number


def test_trial_from_id_runs_a_trial_another_process_asked_for(study):
    asked = study.ask()
    trial = _compat.trial_from_id(study, _compat.trial_id_of(asked))
    x = trial.suggest_float("x", 0.0, 1.0)
    study.tell(trial, x)
    assert study.trials[0].params == {"x": x} and study.trials[0].value == x


# Optuna marks the heartbeat API experimental; sweeper relies on it knowingly.
quiet_heartbeat = pytest.mark.filterwarnings(
    "ignore::optuna.exceptions.ExperimentalWarning", "ignore:Heartbeat of storage is supposed to be used"
)


@quiet_heartbeat
def test_has_heartbeat_only_for_an_rdb_storage_with_an_interval(tmp_path):
    beating = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'a.db'}", heartbeat_interval=1)
    silent = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'b.db'}")
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j.log")))
    assert [_compat.has_heartbeat(s) for s in (beating, silent, journal)] == [True, False, False]


def test_was_enqueued_tells_enqueued_trials_from_sampled_ones(study):
    study.enqueue_trial({"x": 0.5})
    enqueued, sampled = study.ask(), study.ask()
    for trial in (enqueued, sampled):
        trial.suggest_float("x", 0.0, 1.0)
    frozen = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert _compat.was_enqueued(frozen[enqueued.number]) and not _compat.was_enqueued(frozen[sampled.number])


@quiet_heartbeat
def test_heartbeat_retry_history_names_the_stale_trial_a_retry_stands_in_for(tmp_path):
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'h.db'}", heartbeat_interval=1, grace_period=1, heartbeat_stale_trial_callback=retry
    )
    study = optuna.create_study(storage=storage)
    stale = study.ask()
    stale.suggest_float("x", 0.0, 1.0)
    storage.record_heartbeat(_compat.trial_id_of(stale))
    time.sleep(2.2)  # past the grace period (SQLite keeps whole seconds): the heartbeat is stale
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    assert trials[0].state == optuna.trial.TrialState.FAIL and len(trials) == 2
    assert _compat.heartbeat_retry_history(trials[1]) == (stale.number,)
    assert _compat.heartbeat_retry_history(trials[0]) == ()


def test_compiled_metrics_and_their_direction_as_keras_mode_auto_reads_them():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["categorical_accuracy", "mae"])
    model.evaluate(np.zeros((4, 3), "float32"), np.eye(2, dtype="float32")[[0, 1, 0, 1]], verbose=0)  # builds them
    directions = {m.name: _compat.metric_direction(m) for m in _compat.compiled_metrics(model)}
    assert directions["categorical_accuracy"] == "up" and directions["mae"] == "down"
    assert _compat.compiled_metrics(None) == []


# Run on JAX in a fresh process: this one runs TensorFlow, which is imported already.
LEFT_UNIMPORTED = """
import json, random, sys
import keras, numpy as np
from keras.src.utils import module_utils
from sweeper import _compat

model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
with _compat.tensorflow_left_unimported():
    keras.utils.set_random_seed(7)
    mine = [random.random(), float(np.random.rand())]
    model.save(sys.argv[1])
untouched = "tensorflow" not in sys.modules and module_utils.tensorflow._available is None
keras.utils.set_random_seed(7)
keras_own = [random.random(), float(np.random.rand())]
print(json.dumps([untouched, mine == keras_own, "tensorflow" in sys.modules]))
"""


def test_tensorflow_left_unimported_seeds_and_saves_as_keras_does_without_importing_tensorflow(tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    script = [sys.executable, "-c", LEFT_UNIMPORTED, str(tmp_path / "m.keras")]
    run = subprocess.run(script, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    untouched, same_seeds, keras_imports_it = json.loads(run.stdout.splitlines()[-1])
    assert untouched and same_seeds and (tmp_path / "m.keras").exists()
    assert keras_imports_it  # Keras's own seeding still imports TensorFlow: the block is still needed


def test_loky_reads_the_memory_leak_limit_sweeper_raises():
    import inspect

    from joblib.externals.loky import process_executor

    assert "_MAX_MEMORY_LEAK_SIZE" in inspect.getsource(process_executor._process_worker)
    before = process_executor._MAX_MEMORY_LEAK_SIZE
    try:
        _compat.disable_loky_memory_check()
        assert process_executor._MAX_MEMORY_LEAK_SIZE == 2**62
    finally:
        process_executor._MAX_MEMORY_LEAK_SIZE = before


def test_loky_worker_pids_are_the_executors_processes():
    executor = ProcessPoolExecutor(max_workers=1)
    try:
        assert _compat.loky_worker_pids(executor) == []  # none before the first submit
        pid = executor.submit(os.getpid).result(timeout=60)
        assert _compat.loky_worker_pids(executor) == [pid]
    finally:
        executor.shutdown(wait=False, kill_workers=True)


def die() -> None:
    """A task that kills the worker process running it."""
    os.kill(os.getpid(), signal.SIGKILL)


def test_loky_exit_codes_names_the_signal_that_killed_a_worker():
    executor = ProcessPoolExecutor(max_workers=1)
    try:
        error = executor.submit(die).exception(timeout=60)
    finally:
        executor.shutdown(wait=False, kill_workers=True)
    assert isinstance(error, BrokenProcessPool)
    assert "SIGKILL" in (_compat.loky_exit_codes(error) or ""), str(error)


def test_a_trial_artifact_listed_in_the_study_attrs_is_what_optuna_dashboard_lists_for_that_trial():
    from optuna_dashboard.artifact._backend import list_trial_artifacts

    study = optuna.create_study()
    trial = study.ask()
    study.tell(trial, 1.0)
    meta = {"artifact_id": "0" * 36, "filename": "best.keras", "mimetype": "application/octet-stream"}
    _compat.set_study_system_attr(
        study, _compat.dashboard_trial_artifact_key(trial._trial_id, meta["artifact_id"]), json.dumps(meta)
    )
    frozen = study.trials[0]
    assert list_trial_artifacts(_compat.study_system_attrs(study), frozen.system_attrs, frozen) == [meta]
    _compat.set_study_system_attr(
        study, _compat.dashboard_trial_artifact_key(trial._trial_id, meta["artifact_id"]), "null"
    )
    assert list_trial_artifacts(_compat.study_system_attrs(study), frozen.system_attrs, frozen) == []


def test_a_filesystem_artifact_store_keeps_an_artifact_at_the_path_sweeper_links(tmp_path):
    store = optuna.artifacts.FileSystemArtifactStore(tmp_path)
    store.write("abc", io.BytesIO(b"weights"))
    assert open(_compat.filesystem_artifact_path(str(tmp_path), "abc"), "rb").read() == b"weights"
