"""One trial in a worker process: sample, build, fit with fresh callbacks, record, tell."""

from __future__ import annotations

import dataclasses
import os
import socket
import time
import traceback
from typing import Any

import keras
import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from sweeper._compat import storage_of, tensorflow_left_unimported, trial_from_id
from sweeper.callbacks import BuildContext, TrialPaths
from sweeper.callbacks._atomic_checkpoint import AtomicModelCheckpoint
from sweeper.callbacks._early_stopping import EARLY_STOPPING_ATTR, EarlyStopping, early_stopping_settings
from sweeper.callbacks._progress_file import PROGRESS_FILE, ProgressFile
from sweeper.callbacks._trial_recorder import TrialRecorder
from sweeper.callbacks._trial_timeout import TrialTimeLimit
from sweeper.search._confirm import CONFIRM_ATTR, SEED_ATTR
from sweeper.search._pruners import make_pruner
from sweeper.search._pruning import PruningBridge
from sweeper.search._samplers import make_sampler
from sweeper.storage._heartbeat import beating
from sweeper.storage._open import open_storage
from sweeper.storage._retention import (
    CHECKPOINT_ATTR,
    CHECKPOINT_FILES_ATTR,
    KEEP_ATTR,
    retain_checkpoints,
)
from sweeper.study._direction import Mode
from sweeper.study._study import KEEP_ALL, Study
from sweeper.trial._config import SweepConfig
from sweeper.trial._context import WorkerContext, worker_context, worker_rss_mb
from sweeper.trial._device import broken_device_message, device_attrs, is_broken_device, out_of_memory_message
from sweeper.trial._hparams import write_hparams
from sweeper.trial._model import build_model, callback_specs, release_memory
from sweeper.trial._outcome import EPOCHS_RUN_ATTR, MAX_EPOCHS_ATTR, StopReason, TrialOutcome, outcome_of_trial
from sweeper.trial._ownership import WORKER_ATTR, this_process
from sweeper.trial._resume import Resume, prepare_resume

MAX_ERROR_CHARS = 8000


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
    trial = trial_from_id(optuna_study, trial_id)
    optuna_study.sampler = make_sampler(context.study, trial.number)
    started = time.perf_counter()
    broken = False  # the fit broke this worker's GPU context: whoever ends the trial, replace the worker
    # Beats until the trial is told: a trial silent for the grace period is reaped.
    with beating(storage_of(optuna_study), trial_id):
        try:
            keep = KEEP_ALL if config.keep_checkpoints is None else config.keep_checkpoints
            where = {"pid": os.getpid(), "host": socket.gethostname(), WORKER_ATTR: this_process()}
            _set_attrs(trial, {**where, KEEP_ATTR: keep, **device_attrs()})
            outcome, attrs = _fit_safely(context, config, trial)
            broken = outcome.replace_worker
            outcome = dataclasses.replace(outcome, worker_rss_mb=worker_rss_mb())
            attrs.update(
                stop_reason=outcome.stop_reason,
                duration_s=round(time.perf_counter() - started, 3),
                worker_rss_mb=outcome.worker_rss_mb,
            )
            _set_attrs(trial, attrs)
            _tell(optuna_study, trial, outcome)
        except UpdateFinishedTrialError:
            # Another process ended it first (reaped as stale or abandoned, or a surplus):
            # what the storage says stands, under one name everywhere. Its retry counts.
            ended = outcome_of_trial(storage_of(optuna_study).get_trial(trial_id))
            rss = worker_rss_mb()
            return dataclasses.replace(ended, counted=False, pid=os.getpid(), worker_rss_mb=rss, replace_worker=broken)
    # The trial has been told: a failed pass costs disk, not the trial; the next pass catches up.
    retain_checkpoints(optuna_study, config.runs_dir, config.keep_checkpoints, warn_only=True)
    return outcome


def _fit_safely(
    context: WorkerContext, config: SweepConfig, trial: optuna.Trial
) -> tuple[TrialOutcome, dict[str, Any]]:
    """Fits the trial; whatever user code raises ends the trial, not the worker."""
    try:
        return _fit_trial(context, config, trial)
    except Exception as error:
        message = out_of_memory_message(error) or broken_device_message(error) or _format_error(error)
        broken = is_broken_device(error)
        error_outcome = ("FAIL", None, StopReason.ERROR.value, message, os.getpid())
        outcome = TrialOutcome(trial.number, *error_outcome, replace_worker=broken)
        return outcome, {"error": outcome.error}
    finally:
        release_memory()


def _optuna_study(context: WorkerContext, config: SweepConfig, study_name: str) -> optuna.Study:
    key = ("optuna_study", config.storage, study_name)
    if key not in context.cache:
        study = optuna.load_study(
            study_name=study_name,
            storage=open_storage(config.storage, config.heartbeat, config.retries),
            pruner=make_pruner(context.study),
        )
        if CONFIRM_ATTR in study.user_attrs:
            study.pruner = optuna.pruners.NopPruner()  # a confirm run compares whole runs: pruning would cut them
        context.cache[key] = study
    return context.cache[key]


def _fit_trial(context: WorkerContext, config: SweepConfig, trial: optuna.Trial) -> tuple[TrialOutcome, dict[str, Any]]:
    study = context.study
    timer = _time_limit(config)
    repeat = int(trial.user_attrs.get("repeat", 0))
    seed = _seed_of(study, trial, repeat)
    if seed is not None:
        with tensorflow_left_unimported():  # Keras would import TensorFlow to seed it, on any backend
            keras.utils.set_random_seed(seed)
    values = {spec: spec.resolve(trial) for spec in callback_specs(study)}
    model = build_model(study, trial)
    if study.repeats > 1 and "repeat" not in trial.user_attrs:
        _enqueue_repeats(trial, study.repeats)

    mode = _stored_mode(trial)  # the probe resolved it once for the whole sweep
    paths = TrialPaths(config.trial_dir(trial.study.study_name, trial.number), trial.number)
    resume = prepare_resume(trial, paths.trial_dir) if config.resume_trials else None
    built = [spec.build(v, BuildContext(paths, study.monitor, mode)) for spec, v in values.items()]
    callbacks = tensorboard_first([*built, *study.fresh_user_callbacks()])
    recorder = TrialRecorder(study.monitor, mode)
    bridge = PruningBridge(trial, study.monitor, mode)
    paths.trial_dir.mkdir(parents=True, exist_ok=True)
    # Where the trial is, for `sweeper status` and the hung-trial check: read from outside the worker.
    progress = ProgressFile(paths.trial_dir / PROGRESS_FILE, study.monitor, mode, study.epochs)
    internal = [recorder, bridge, progress] if timer is None else [recorder, bridge, progress, timer]
    if resume is not None:  # last: it saves after every other callback's epoch end, restores after their resets
        internal.append(resume.callback([*callbacks, *internal], trial, config.backup_every_s))

    fit_arguments = {**context.data.fit_arguments(study.batch_size), **study.fit_kwargs}  # the user's win
    fit_seconds = _fit(model, fit_arguments, study.epochs, [*callbacks, *internal], resume)
    reason = _stop_reason(study, recorder, bridge, [*callbacks, *internal])
    outcome = _outcome(trial.number, reason, recorder, bridge, timer)
    logdir = _logdir(callbacks)
    if logdir is not None:
        write_hparams(logdir, trial.number, trial.params, {f"best_{study.monitor}": recorder.best})
    attrs = _recorded_attrs(recorder, callbacks, logdir)
    attrs.update(fit_s=round(fit_seconds, 3), seed=seed)
    attrs[MAX_EPOCHS_ATTR] = study.epochs
    attrs.update(_early_stopping_attr(values, built))
    return outcome, attrs


def _fit(model: Any, arguments: dict[str, Any], epochs: int, callbacks: list[Any], resume: Resume | None) -> float:
    """Fits from epoch 0 or the resumed one; returns the fit's seconds. The backup goes when the fit ends."""
    started = time.perf_counter()
    initial_epoch = 0 if resume is None else resume.epoch
    try:
        model.fit(**arguments, epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=0)
    finally:
        if resume is not None:
            resume.remove()  # however the fit ended, the trial ends now; only a killed worker leaves its backup
    return time.perf_counter() - started


def tensorboard_first(callbacks: list[Any]) -> list[Any]:
    """The callbacks in fit order, TensorBoard writers first, the others as declared.

    Keras's TensorBoard logs the optimizer's learning rate as it is when it writes
    the epoch. Ahead of ReduceLROnPlateau, that is the rate the epoch trained at,
    the value Keras's ``history`` records; behind it, the cut rate of the next epoch.

    Args:
        callbacks: The trial's Keras callbacks.

    Returns:
        The same callbacks, reordered.
    """
    return sorted(callbacks, key=lambda callback: not isinstance(callback, keras.callbacks.TensorBoard))


def _recorded_attrs(recorder: TrialRecorder, callbacks: list[Any], logdir: str | None) -> dict[str, Any]:
    return {
        "best_value": recorder.best,
        "best_epoch": recorder.best_epoch,
        EPOCHS_RUN_ATTR: recorder.epochs_run,
        "lr_initial": recorder.lr_initial,
        "lr_final": recorder.lr_final,
        "lr_reductions": recorder.lr_reductions,
        CHECKPOINT_ATTR: _checkpoint_path(callbacks),
        CHECKPOINT_FILES_ATTR: _checkpoint_files(callbacks),
        "logdir": logdir,
    }


def _early_stopping_attr(values: dict[Any, Any], built: list[Any]) -> dict[str, Any]:
    """The first ``sweeper.EarlyStopping``'s settings as its Keras callback ran them, for the reports' replay."""
    for spec, callback in zip(values, built, strict=True):
        if isinstance(spec, EarlyStopping):
            return {EARLY_STOPPING_ATTR: early_stopping_settings(callback)}
    return {}


def _time_limit(config: SweepConfig) -> TrialTimeLimit | None:
    """The trial's time limit, counted from now (its fit is about to be set up), if the sweep has one."""
    if config.trial_timeout is None:
        return None
    return TrialTimeLimit(time.monotonic() + config.trial_timeout, config.trial_timeout)


def _seed_of(study: Study, trial: optuna.Trial, repeat: int) -> int | None:
    """The trial's planned seed (a confirm run's), else the study's seed plus its repeat."""
    planned = trial.user_attrs.get(SEED_ATTR)
    if planned is not None:
        return int(planned)
    return None if study.seed is None else study.seed + repeat


def _stored_mode(trial: optuna.Trial) -> Mode:
    direction = trial.study.direction
    return "max" if direction == optuna.study.StudyDirection.MAXIMIZE else "min"


def _enqueue_repeats(trial: optuna.Trial, repeats: int) -> None:
    trial.set_user_attr("repeat", 0)
    for repeat in range(1, repeats):
        trial.study.enqueue_trial(trial.params, user_attrs={"repeat": repeat, "repeat_of": trial.number})


def _stop_reason(study: Study, recorder: TrialRecorder, bridge: PruningBridge, callbacks: list[Any]) -> StopReason:
    if recorder.diverged_epoch is not None:
        return StopReason.DIVERGED
    if bridge.pruned_epoch is not None:
        return StopReason.PRUNED
    if recorder.epochs_run >= study.epochs:
        return StopReason.MAX_EPOCHS  # even if EarlyStopping or the time limit fired in the last epoch
    if any(isinstance(c, TrialTimeLimit) and c.timed_out for c in callbacks):
        return StopReason.TIMEOUT
    if any(isinstance(c, keras.callbacks.EarlyStopping) and c.stopped_epoch > 0 for c in callbacks):
        return StopReason.EARLY_STOPPING
    return StopReason.CALLBACK


def _outcome(
    number: int, reason: StopReason, recorder: TrialRecorder, bridge: PruningBridge, timer: TrialTimeLimit | None
) -> TrialOutcome:
    pid = os.getpid()
    if reason == StopReason.DIVERGED:
        message = f"the loss or monitored value became NaN or infinite at epoch {recorder.diverged_epoch}"
        return TrialOutcome(number, "FAIL", recorder.best, reason.value, message, pid)
    if reason == StopReason.PRUNED:
        return TrialOutcome(number, "PRUNED", bridge.best, reason.value, None, pid)
    if recorder.best is None and reason == StopReason.TIMEOUT and timer is not None:
        message = f"no epoch produced a value within the trial timeout of {timer.limit_s:g} s"
        return TrialOutcome(number, "FAIL", None, reason.value, message, pid)
    if recorder.best is None:
        return TrialOutcome(number, "FAIL", None, StopReason.ERROR.value, "no epoch produced a value", pid)
    return TrialOutcome(number, "COMPLETE", recorder.best, reason.value, None, pid)


def _checkpoint_path(callbacks: list[Any]) -> str | None:
    for callback in callbacks:
        if isinstance(callback, AtomicModelCheckpoint):
            return callback.best_path or callback.last_path
    return None


def _checkpoint_files(callbacks: list[Any]) -> list[str]:
    return [path for c in callbacks if isinstance(c, AtomicModelCheckpoint) for path in c.saved_paths]


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
