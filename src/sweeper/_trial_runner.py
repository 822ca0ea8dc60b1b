"""One trial in a worker process: sample, build, fit with fresh callbacks, record, tell."""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket
import time
import traceback
from pathlib import Path
from typing import Any

import keras
import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from sweeper._algorithms import make_pruner, make_sampler, planned_trials
from sweeper._direction import check_monitor, resolve_mode
from sweeper._errors import StudyFileError
from sweeper._heartbeat import beating
from sweeper._hparams import write_hparams
from sweeper._loader import location_in
from sweeper._outcome import EPOCHS_RUN_ATTR, ProbeResult, StopReason, TrialOutcome
from sweeper._storage import open_storage
from sweeper._study import Study
from sweeper._worker import SweepConfig, WorkerContext, record_trial_memory, worker_context
from sweeper.callbacks import BuildContext, CallbackSpec, ReduceLROnPlateau, TrialPaths
from sweeper.callbacks._atomic_checkpoint import AtomicModelCheckpoint
from sweeper.callbacks._pruning import PruningBridge
from sweeper.callbacks._trial_recorder import TrialRecorder

MAX_ERROR_CHARS = 8000
PROBE_ATTEMPTS = 5


def probe_study(study_file: str) -> ProbeResult:
    """Builds one model and evaluates it on a batch, before any trial trains.

    This resolves the monitor's direction by Keras's rule and checks every monitor
    against the keys the model really logs, so a typo fails before hours of
    training, not after the first epoch.

    Args:
        study_file: The study file's absolute path.

    Returns:
        The direction and the logged keys.

    Raises:
        StudyFileError: For a data or model function that fails, or a monitor the
            model does not log.
    """
    context = worker_context(study_file)
    study = context.study
    try:
        model = _probe_model(study)
        model.run_eagerly = True  # one batch: tracing a graph for it costs more than running it (0.4 s vs 0.1 s)
        logs = model.evaluate(*context.data.probe_batch(), verbose=0, return_dict=True)
        keys = _logged_keys(study, logs, has_validation=context.data.val is not None)
        for owner, monitor in _monitors(study):
            check_monitor(monitor, keys, owner=owner)
        mode = resolve_mode(study.monitor, study.mode, model)
    except StudyFileError as error:
        raise error.with_source(study_file) from None
    except Exception as error:
        raise StudyFileError(
            f"building or evaluating the first model raised {type(error).__name__}: {error}",
            source=location_in(Path(study_file), error),
            fix="fix the model function so it returns a compiled keras.Model that fits the data.",
        ) from None
    finally:
        _release_memory()
    return ProbeResult(
        name=study.name,
        monitor=study.monitor,
        mode=mode,
        n_trials=study.n_trials,
        timeout=study.timeout,
        sampler=_pickled(make_sampler(study)),
        warnings=context.warnings,
        logged_keys=tuple(keys),
        planned_trials=planned_trials(study),
        retries=study.retries,
        fail_fast=study.fail_fast,
        epoch_budget=study.epoch_budget,
    )


def _pickled(value: Any) -> bytes | None:
    try:
        return pickle.dumps(value)
    except Exception:  # e.g. a sampler class defined inside the study file
        return None


def _probe_model(study: Study, attempts: int = PROBE_ATTEMPTS) -> Any:
    """A model built from random params; a few tries, as some params may fail by design.

    A model function that raises for part of its space is the trial's business
    (that trial fails); one that raises for every sample cannot work at all.
    """
    sampler_study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(attempts - 1):
        try:
            return _build_model(study, _probe_trial(study, sampler_study))
        except StudyFileError:
            raise
        except Exception:
            continue
    return _build_model(study, _probe_trial(study, sampler_study))  # the last failure propagates


def _probe_trial(study: Study, sampler_study: optuna.Study) -> optuna.Trial:
    trial = sampler_study.ask()
    for spec in _specs(study):
        spec.resolve(trial)
    return trial


def _logged_keys(study: Study, logs: dict[str, Any], *, has_validation: bool) -> list[str]:
    keys = list(logs)
    if has_validation:
        keys += [f"val_{k}" for k in logs]
    if any(isinstance(c, ReduceLROnPlateau) for c in study.callbacks):
        keys.append("learning_rate")
    return keys


def _monitors(study: Study) -> list[tuple[str, str]]:
    monitors = [("Study monitor", study.monitor)]
    for spec in _specs(study):
        value = spec.params.get("monitor")
        if isinstance(value, str):
            monitors.append((f"{spec.keras_name} monitor", value))
    return monitors


def _specs(study: Study) -> list[CallbackSpec]:
    return [c for c in study.callbacks if isinstance(c, CallbackSpec)]


def _build_model(study: Study, trial: optuna.trial.BaseTrial) -> Any:
    model = study.model(trial)
    if not isinstance(model, keras.Model):
        raise StudyFileError(f"model() returned {type(model).__name__}, not a keras.Model.", fix="return the compiled model.")
    if not getattr(model, "compiled", False):
        raise StudyFileError("model() returned a model that is not compiled.", fix="call model.compile(...) before returning it.")
    return model


def run_trial(config: SweepConfig, study_name: str, trial_id: int) -> TrialOutcome:
    """Runs one asked trial to its end and tells the storage how it ended.

    Args:
        config: The sweep.
        study_name: The Optuna study's name.
        trial_id: The storage id of a trial the driver asked for.

    Returns:
        How the trial ended.
    """
    context = worker_context(config.study_file)
    optuna_study = _optuna_study(context, config, study_name)
    trial = optuna.trial.Trial(optuna_study, trial_id)
    optuna_study.sampler = make_sampler(context.study, trial.number)
    started = time.perf_counter()
    # Beats until the trial is told: a trial silent for the grace period is reaped.
    with beating(optuna_study._storage, trial_id):
        _set_attrs(trial, {"pid": os.getpid(), "host": socket.gethostname()})
        outcome, attrs = _fit_safely(context, config, trial)
        outcome = dataclasses.replace(outcome, worker_rss_mb=record_trial_memory())
        attrs.update(
            stop_reason=outcome.stop_reason,
            duration_s=round(time.perf_counter() - started, 3),
            worker_rss_mb=outcome.worker_rss_mb,
        )
        try:
            _set_attrs(trial, attrs)
            _tell(optuna_study, trial, outcome)
        except UpdateFinishedTrialError:
            # Reaped for a stale heartbeat while this worker was stalled; its retry counts.
            return dataclasses.replace(outcome, counted=False)
    return outcome


def _fit_safely(context: WorkerContext, config: SweepConfig, trial: optuna.Trial) -> tuple[TrialOutcome, dict[str, Any]]:
    """Fits the trial; whatever user code raises ends the trial, not the worker."""
    try:
        return _fit_trial(context, config, trial)
    except Exception as error:
        outcome = TrialOutcome(trial.number, "FAIL", None, StopReason.ERROR.value, _format_error(error), os.getpid())
        return outcome, {"error": outcome.error}
    finally:
        _release_memory()


def _optuna_study(context: WorkerContext, config: SweepConfig, study_name: str) -> optuna.Study:
    key = ("optuna_study", config.storage, study_name)
    if key not in context.cache:
        context.cache[key] = optuna.load_study(
            study_name=study_name,
            storage=open_storage(config.storage, config.heartbeat, config.retries),
            pruner=make_pruner(context.study),
        )
    return context.cache[key]


def _fit_trial(context: WorkerContext, config: SweepConfig, trial: optuna.Trial) -> tuple[TrialOutcome, dict[str, Any]]:
    study = context.study
    repeat = int(trial.user_attrs.get("repeat", 0))
    if study.seed is not None:
        keras.utils.set_random_seed(study.seed + repeat)
    values = {spec: spec.resolve(trial) for spec in _specs(study)}
    model = _build_model(study, trial)
    if study.repeats > 1 and "repeat" not in trial.user_attrs:
        _enqueue_repeats(trial, study.repeats)

    mode = _stored_mode(trial)  # the probe resolved it once for the whole sweep
    paths = TrialPaths(config.trial_dir(study.name, trial.number), trial.number)
    callbacks = [spec.build(v, BuildContext(paths, study.monitor, mode)) for spec, v in values.items()]
    callbacks += study.fresh_user_callbacks()
    recorder = TrialRecorder(study.monitor, mode)
    bridge = PruningBridge(trial, study.monitor, mode)

    fit_started = time.perf_counter()
    model.fit(
        **context.data.fit_arguments(study.batch_size),
        epochs=study.epochs,
        callbacks=[*callbacks, recorder, bridge],
        verbose=0,
        **study.fit_kwargs,
    )
    fit_seconds = time.perf_counter() - fit_started
    outcome = _outcome(trial.number, _stop_reason(study, recorder, bridge, callbacks), recorder, bridge)
    logdir = _logdir(callbacks)
    if logdir is not None:
        write_hparams(logdir, trial.number, trial.params, {f"best_{study.monitor}": recorder.best})
    attrs = _recorded_attrs(recorder, callbacks, logdir)
    attrs.update(fit_s=round(fit_seconds, 3), seed=None if study.seed is None else study.seed + repeat)
    return outcome, attrs


def _recorded_attrs(recorder: TrialRecorder, callbacks: list[Any], logdir: str | None) -> dict[str, Any]:
    return {
        "best_value": recorder.best,
        "best_epoch": recorder.best_epoch,
        EPOCHS_RUN_ATTR: recorder.epochs_run,
        "lr_initial": recorder.lr_initial,
        "lr_final": recorder.lr_final,
        "lr_reductions": recorder.lr_reductions,
        "checkpoint": _checkpoint_path(callbacks),
        "logdir": logdir,
    }


def _stored_mode(trial: optuna.Trial) -> Mode:
    direction = trial.study.direction
    return "max" if direction == optuna.study.StudyDirection.MAXIMIZE else "min"


def _enqueue_repeats(trial: optuna.Trial, repeats: int) -> None:
    trial.set_user_attr("repeat", 0)
    for repeat in range(1, repeats):
        trial.study.enqueue_trial(trial.params, user_attrs={"repeat": repeat, "repeat_of": trial.number})


def _stop_reason(study: Study, recorder: TrialRecorder, bridge: PruningBridge, callbacks: list[Any]) -> StopReason:
    if recorder.diverged_epoch is not None:
        return StopReason.NAN
    if bridge.pruned_epoch is not None:
        return StopReason.PRUNED
    if recorder.epochs_run >= study.epochs:
        return StopReason.MAX_EPOCHS  # even if EarlyStopping fired on the last epoch: nothing was cut
    if any(isinstance(c, keras.callbacks.EarlyStopping) and c.stopped_epoch > 0 for c in callbacks):
        return StopReason.EARLY_STOPPING
    return StopReason.CALLBACK


def _outcome(number: int, reason: StopReason, recorder: TrialRecorder, bridge: PruningBridge) -> TrialOutcome:
    pid = os.getpid()
    if reason == StopReason.NAN:
        message = f"the loss or monitored value became NaN or infinite at epoch {recorder.diverged_epoch}"
        return TrialOutcome(number, "FAIL", recorder.best, reason.value, message, pid)
    if reason == StopReason.PRUNED:
        return TrialOutcome(number, "PRUNED", bridge.best, reason.value, None, pid)
    if recorder.best is None:
        return TrialOutcome(number, "FAIL", None, StopReason.ERROR.value, "no epoch produced a value", pid)
    return TrialOutcome(number, "COMPLETE", recorder.best, reason.value, None, pid)


def _checkpoint_path(callbacks: list[Any]) -> str | None:
    for callback in callbacks:
        if isinstance(callback, AtomicModelCheckpoint):
            return callback.best_path or callback.last_path
    return None


def _logdir(callbacks: list[Any]) -> str | None:
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.TensorBoard):
            return str(callback.log_dir)
    return None


def _set_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def _tell(study: optuna.Study, trial: optuna.Trial, outcome: TrialOutcome) -> None:
    if outcome.state == "COMPLETE":
        study.tell(trial, outcome.value)
    elif outcome.state == "PRUNED":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)


def _format_error(error: BaseException) -> str:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return text[-MAX_ERROR_CHARS:]


def _release_memory() -> None:
    # free_memory=False: Keras's default runs gc.collect(), ~0.5 s a trial that frees
    # nothing TensorFlow leaks (measured); the pool replaces a worker that outgrows its
    # memory budget instead (sweeper._recycle).
    keras.backend.clear_session(free_memory=False)
