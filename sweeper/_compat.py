"""Every use of another project's private API, in one place.

Optuna, Keras and loky (joblib's process executor) offer no public name for a few
things sweeper needs. Each such use is one small function here, and
``tests/test_compat.py`` checks each assumption against the installed version,
so an upgrade that breaks one fails one named test instead of code all over.
Keras and loky are imported inside the functions: the driver must never import
TensorFlow, and importing this module costs nothing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

# Optuna's system attributes: set by enqueue_trial and by RetryHeartbeatStaleTrialCallback.
_ENQUEUED_PARAMS = "fixed_params"
_RETRY_HISTORY = "retry_history"
# loky's BrokenProcessPool message lists the exit codes of the workers that died.
_LOKY_EXIT_CODES = re.compile(r"exit codes of the workers are (\{.*?\})")


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage behind a study (``Study._storage``): Optuna has no public accessor."""
    return study._storage


def trial_id_of(trial: optuna.trial.BaseTrial | FrozenTrial) -> int:
    """A trial's storage id (``_trial_id``), which the storage API takes; Optuna has no public accessor."""
    return trial._trial_id


def trial_from_id(study: optuna.Study, trial_id: int) -> optuna.Trial:
    """A live ``optuna.Trial`` for a trial another process asked for.

    Optuna documents ``Trial(study, trial_id)`` but advises against calling it; it is
    the only way for a worker to run a trial the driver's ``study.ask()`` created.
    """
    return optuna.trial.Trial(study, trial_id)


def has_heartbeat(storage: BaseStorage) -> bool:
    """Whether the storage records trial heartbeats (an RDB storage with ``heartbeat_interval``).

    ``BaseHeartbeat`` lives in the private ``optuna.storages._heartbeat``.
    """
    from optuna.storages._heartbeat import BaseHeartbeat

    return isinstance(storage, BaseHeartbeat) and storage.get_heartbeat_interval() is not None


def was_enqueued(trial: FrozenTrial) -> bool:
    """Whether the trial took its params from ``enqueue_trial`` (a retry, a grid cell, a repeat)."""
    return _ENQUEUED_PARAMS in trial.system_attrs


def heartbeat_retry_history(trial: FrozenTrial) -> tuple[int, ...]:
    """Numbers of the stale trials this trial retries, as ``RetryHeartbeatStaleTrialCallback`` records them."""
    return tuple(trial.system_attrs.get(_RETRY_HISTORY, ()))


def compiled_metrics(model: Any) -> list[Any]:
    """The metric objects a compiled Keras model logs, unwrapped from Keras's containers.

    ``model.metrics`` holds ``CompileMetrics`` and ``MetricsList`` wrappers, which
    only the private ``keras.src.trainers.compile_utils`` names.
    """
    from keras.src.trainers import compile_utils

    metrics: list[Any] = []
    for metric in getattr(model, "metrics", []) if model is not None else []:
        if isinstance(metric, (compile_utils.CompileMetrics, compile_utils.MetricsList)):
            metrics.extend(metric.metrics)
    return metrics


def metric_direction(metric: Any) -> str | None:
    """``"up"`` or ``"down"``: the private ``_direction`` Keras's own ``mode="auto"`` reads, if set."""
    return getattr(metric, "_direction", None)


@contextmanager
def tensorflow_left_unimported() -> Iterator[None]:
    """Within it, Keras takes TensorFlow for not installed, unless it is the backend or already imported.

    Keras asks its lazy TensorFlow module (the private
    ``keras.src.utils.module_utils.tensorflow``) whether TensorFlow is ``available``
    before seeding TensorFlow's generator and before each ``isinstance`` check against a
    TensorFlow type when it saves a model, and that question imports TensorFlow wherever
    it is installed: on JAX or PyTorch, seconds and hundreds of MB in each worker. Before
    TensorFlow is imported no TensorFlow object exists, so the answer "absent" loses
    nothing there. Outside the block Keras asks as before, so a layer that needs
    TensorFlow on any backend (``StringLookup``) still imports it.
    """
    import keras
    from keras.src.utils import module_utils

    lazy = module_utils.tensorflow
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules or lazy._available is not None:
        yield  # the backend's own, imported already, or known to be missing: Keras's answer stands
        return
    lazy._available = False
    try:
        yield
    finally:
        lazy._available = None  # unasked: the next question outside the block imports it as before


def disable_loky_memory_check() -> None:
    """Turns off loky's own leak check: sweeper's pool recycles workers itself.

    Loky exits a worker whose RSS grew 300 MB since its first task, which may be
    the light warm-up task, and it gives no notice, so no replacement is ready.
    """
    from joblib.externals.loky import process_executor

    process_executor._MAX_MEMORY_LEAK_SIZE = 2**62


def loky_worker_pids(executor: Any) -> list[int]:
    """The pids of a loky executor's worker processes (``_processes``), none before its first submit."""
    return list(executor._processes)


def loky_exit_codes(error: BaseException) -> str | None:
    """The dead workers' exit codes in a loky ``BrokenProcessPool`` message, e.g. ``"SIGKILL(-9)"``."""
    codes = _LOKY_EXIT_CODES.search(str(error))
    return codes.group(1).strip("{}") if codes else None


# optuna-dashboard lists a trial's artifacts from two places: the trial's own system attrs
# (``artifacts:<id>``, what ``optuna.artifacts.upload_artifact`` writes) and, for artifacts it
# uploads itself, the study's system attrs under ``dashboard:artifacts:<trial_id>:<id>``.
# Only the second can still change once the trial has finished, so a checkpoint that later
# falls out of the K best can leave the listing.
_DASHBOARD_TRIAL_ARTIFACT = "dashboard:artifacts:{trial_id}:{artifact_id}"


def study_system_attrs(study: optuna.Study) -> dict[str, Any]:
    """The study's system attributes, read fresh from its storage (``Study._study_id``)."""
    return study._storage.get_study_system_attrs(study._study_id)


def set_study_system_attr(study: optuna.Study, key: str, value: Any) -> None:
    """Sets a study system attribute; unlike a finished trial's, it may change at any time."""
    study._storage.set_study_system_attr(study._study_id, key, value)


def dashboard_trial_artifact_key(trial_id: int, artifact_id: str) -> str:
    """The study system attribute under which optuna-dashboard lists an artifact of a trial."""
    return _DASHBOARD_TRIAL_ARTIFACT.format(trial_id=trial_id, artifact_id=artifact_id)


def filesystem_artifact_path(base_path: str, artifact_id: str) -> str:
    """Where ``optuna.artifacts.FileSystemArtifactStore(base_path)`` keeps an artifact's bytes.

    sweeper links a checkpoint there instead of copying it, so it is on disk once.
    """
    import os

    return os.path.join(base_path, artifact_id)
