"""The ``sweeper`` command line: a thin layer over the library API."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import warnings
from typing import Any

import click

from sweeper._errors import DeviceBroken, StudyFileError, SweepAborted, SweepTerminated

EXIT_NO_SUCCESS = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

runs_dir_option = click.option("--runs-dir", default="runs", show_default=True, help="Where trial artifacts live.")
storage_option = click.option(
    "--storage", default=None, help="Optuna RDB URL or journal file. [default: runs/<study>/journal.log]"
)
# The study's own budget and retries, overridden: `run` and `worker` take them alike.
n_trials_option = click.option(
    "--n-trials", default=None, type=int, help="Results the study should hold. [default: the study's]"
)
retries_option = click.option(
    "--retries", default=None, type=int, help="Reruns of a trial lost with its worker. [default: the study's, 1]"
)
epoch_budget_option = click.option(
    "--epoch-budget",
    default=None,
    type=int,
    help="Start no trial once the trials have trained this many epochs in all. [default: the study's, none]",
)


trial_timeout_option = click.option(
    "--trial-timeout",
    default=None,
    type=float,
    help="Stop a trial at the first batch end past this many seconds. [default: the study's, none]",
)
# Checkpoints and disk: `run`, `confirm` and `worker` take them alike.
keep_checkpoints_option = click.option(
    "--keep-checkpoints",
    default=None,
    metavar="K|all",
    help="Keep the checkpoints of the K best COMPLETE trials, delete the rest; 'all' keeps every one. "
    "[default: the study's, 5]",
)
min_free_gb_option = click.option(
    "--min-free-gb",
    default=1.0,
    show_default=True,
    type=float,
    help="Start no trial while the runs folder's disk has less free; 0 never stops.",
)
resume_trials_option = click.option(
    "--resume-trials/--no-resume-trials",
    default=True,
    show_default=True,
    help="Back trials up at epoch ends (at most once a minute) so an interrupted trial's retry resumes there.",
)


@click.group()
@click.version_option(package_name="sweeper")
def main() -> None:
    """Hyperparameter sweeps for Keras, on Optuna and worker processes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Exit without a last garbage collection over pandas, matplotlib and scikit-learn
    # (0.4 s after every sweep); the process's memory goes back to the OS regardless.
    atexit.register(gc.freeze)
    warnings.formatwarning = _one_line_warning
    import optuna

    # sweeper prints its own progress line per trial; Optuna's INFO lines would double it.
    optuna.logging.set_verbosity(optuna.logging.WARNING)


jobs_option = click.option(
    "--jobs", "-j", default=None, type=int, help="Worker processes. [default: 1; on GPUs, GPUs × --trials-per-gpu]"
)
gpus_option = click.option(
    "--gpus", default="auto", show_default=True, help="GPUs to pin workers to: auto, none, or indices such as 0,1,3."
)
trials_per_gpu_option = click.option(
    "--trials-per-gpu", default=1, show_default=True, type=int, help="Trials that share each GPU's memory."
)
fail_fast_option = click.option(
    "--fail-fast",
    default=None,
    type=int,
    help="Stop once this many trials failed and none succeeded; 0 never stops. [default: the study's, 3]",
)
reports_dir_option = click.option("--reports-dir", default="reports", show_default=True, help="Where reports go.")
backend_option = click.option(
    "--backend",
    type=click.Choice(["loky", "dask"]),
    default="loky",
    show_default=True,
    help="loky: --jobs processes here. dask: every worker of a Dask cluster (needs --scheduler, an RDB --storage).",
)
scheduler_option = click.option("--scheduler", default=None, help="The Dask scheduler, e.g. tcp://host:8786.")


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@jobs_option
@gpus_option
@trials_per_gpu_option
@n_trials_option
@retries_option
@fail_fast_option
@epoch_budget_option
@trial_timeout_option
@keep_checkpoints_option
@min_free_gb_option
@resume_trials_option
@storage_option
@runs_dir_option
@reports_dir_option
@backend_option
@scheduler_option
def run(study_file: str, **options: Any) -> None:
    """Run, or resume, the sweep STUDY_FILE declares.

    Ctrl-C or SIGTERM stops it within seconds: running trials end as interrupted,
    and running the same command again resumes.
    """
    from sweeper.api import run as run_sweep

    _sweep_and_echo(lambda: run_sweep(study_file, **options))


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--top", default=3, show_default=True, type=int, help="Best distinct model configurations to confirm.")
@click.option("--repeats", default=3, show_default=True, type=int, help="Seeds per configuration and setting.")
@jobs_option
@gpus_option
@trials_per_gpu_option
@retries_option
@fail_fast_option
@trial_timeout_option
@keep_checkpoints_option
@min_free_gb_option
@resume_trials_option
@storage_option
@runs_dir_option
@reports_dir_option
@backend_option
@scheduler_option
def confirm(study_file: str, **options: Any) -> None:
    """Confirm which callback settings of the study STUDY_FILE are worth it, on paired runs.

    Creates (or resumes) the study <study>-confirm in the same storage: the --top best
    model configurations, each with every searched value of the callback settings that
    change training, and --repeats seeds, without pruning. EarlyStopping runs at the
    largest patience searched and the smaller ones are read from the replay. Its
    settings.csv compares the cells pair by pair.
    """
    from sweeper.api import confirm as confirm_study

    _sweep_and_echo(lambda: confirm_study(study_file, **options))


def _sweep_and_echo(action: Any) -> None:
    """Runs a sweep (the options are the API function's own keywords), then prints its report and best trial."""
    from sweeper.api import release_warm_workers

    try:
        result = _guarded(action)
    finally:
        release_warm_workers()  # this process runs no other sweep
    _echo_result(result)


def _echo_result(result: Any) -> None:
    click.echo(f"report: {result.report}")
    if result.best_trial is None:
        click.echo("no trial completed; see the report's error column.", err=True)
        sys.exit(EXIT_NO_SUCCESS)
    _echo_best(result.best_trial)


@main.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option(
    "--storage", required=True, help="The study's shared Optuna storage, e.g. postgresql+psycopg://user:pw@host/db."
)
@runs_dir_option
@click.option(
    "--gpus",
    default="auto",
    show_default=True,
    help="This worker's GPU: auto (those it was given, e.g. by CUDA_VISIBLE_DEVICES or dask-cuda), none, or one index.",
)
@trials_per_gpu_option
@n_trials_option
@retries_option
@epoch_budget_option
@trial_timeout_option
@keep_checkpoints_option
@min_free_gb_option
@resume_trials_option
def worker(study_file: str, **options: Any) -> None:
    """Join the study STUDY_FILE declares as one more worker, from any machine.

    Runs trials in this process until the study holds its n_trials results (or its
    epoch budget is spent), then exits 0. Start as many as you like (Slurm arrays,
    Kubernetes jobs), all with the same --storage and a shared --runs-dir;
    `sweeper report` builds the reports.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sweeper.api import worker as join_study

    ran = _guarded(lambda: join_study(study_file, **options))
    click.echo(f"worker {os.getpid()} ran {ran} trial(s); the study is done.")


@main.command()
@click.argument("study")
@runs_dir_option
@storage_option
def status(study: str, runs_dir: str, storage: str | None) -> None:
    """Show once where the sweep of STUDY (a study file or a study name) is; it writes nothing."""
    from sweeper.api import status as sweep_status

    found = _guarded(lambda: sweep_status(study, runs_dir=runs_dir, storage=storage))
    click.echo(found.text(terminal=sys.stdout.isatty()), nl=False)


@main.command(name="ls")
@runs_dir_option
def list_command(runs_dir: str) -> None:
    """List the studies under the runs folder."""
    from sweeper.api import list_studies

    frame = list_studies(runs_dir)
    if frame.empty:
        click.echo(f"no studies under {runs_dir}")
        return
    click.echo(frame.drop(columns="storage").to_string(index=False))


@main.command()
@click.argument("study")
@runs_dir_option
@storage_option
def best(study: str, runs_dir: str, storage: str | None) -> None:
    """Show the best trial of STUDY (a study file or a study name)."""
    from sweeper.api import best as best_trial

    trial = _guarded(lambda: best_trial(study, runs_dir=runs_dir, storage=storage))
    if trial is None:
        click.echo(f"study {study!r} has no completed trial yet.", err=True)
        sys.exit(EXIT_NO_SUCCESS)
    _echo_best(trial)


@main.command()
@click.argument("study")
@runs_dir_option
@storage_option
@click.option("--reports-dir", default="reports", show_default=True, help="Where reports go.")
def report(study: str, runs_dir: str, storage: str | None, reports_dir: str) -> None:
    """Rebuild the reports of STUDY (a study file or a study name)."""
    from sweeper.api import report as write_reports

    written = _guarded(lambda: write_reports(study, runs_dir=runs_dir, storage=storage, reports_dir=reports_dir))
    counts = written.report.trials["state"].value_counts().to_dict()
    click.echo(
        f"study {written.report.study_name!r}: "
        + ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items()))
    )
    for line in written.report.failure_lines():
        click.echo(line)
    for path in written.files.values():
        click.echo(f"report: {path}")


@main.command()
@click.argument("study")
@runs_dir_option
@click.option("--port", default=6006, show_default=True, type=int)
def tensorboard(study: str, runs_dir: str, port: int) -> None:
    """Open TensorBoard on STUDY's trials, bound to localhost."""
    from sweeper.api import tensorboard as serve

    # Becomes TensorBoard rather than waiting on it: a SIGTERM to `sweeper tensorboard`
    # then stops the server itself instead of orphaning it.
    _guarded(lambda: serve(study, runs_dir=runs_dir, port=port, replace_process=True))


@main.command()
@click.argument("study")
@runs_dir_option
@storage_option
@click.option("--port", default=8080, show_default=True, type=int)
def dashboard(study: str, runs_dir: str, storage: str | None, port: int) -> None:
    """Open optuna-dashboard on STUDY's storage, bound to localhost; Ctrl-C stops it."""
    from sweeper.api import dashboard as serve

    # Becomes the server rather than waiting on it, as `sweeper tensorboard` does.
    _guarded(lambda: serve(study, runs_dir=runs_dir, storage=storage, port=port, replace_process=True))


def _one_line_warning(message: Warning | str, *args: Any, **kwargs: Any) -> str:
    return f"warning: {message}\n"


def _guarded(action: Any) -> Any:
    """Runs ``action``; bad input becomes one line on stderr and exit code 2.

    A sweep stopped because its first trials all failed (or its disk ran low, or a
    ``sweeper worker``'s GPU context broke) exits 1; one stopped by
    Ctrl-C exits 130, and by SIGTERM 143.
    """
    try:
        return action()
    except StudyFileError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except (SweepAborted, DeviceBroken) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_NO_SUCCESS)
    except KeyboardInterrupt as interrupt:
        click.echo(
            "interrupted: finished trials are kept, running ones ended as interrupted; run the same command to resume.",
            err=True,
        )
        sys.exit(interrupt.exit_code if isinstance(interrupt, SweepTerminated) else EXIT_INTERRUPTED)


def _echo_best(trial: Any) -> None:
    attrs = trial.user_attrs
    click.echo(f"best trial: {trial.number}  value: {trial.value:.6g}  {_best_epoch_text(attrs)}")
    for name, value in trial.params.items():
        click.echo(f"  {name} = {value!r}")
    checkpoint = attrs.get("checkpoint")
    if checkpoint and not os.path.exists(checkpoint):
        checkpoint = f"none kept (keep_checkpoints deleted {checkpoint})"
    click.echo(f"checkpoint: {checkpoint}")
    click.echo(f"tensorboard: {attrs.get('logdir')}")


def _best_epoch_text(attrs: dict[str, Any]) -> str:
    """Where the best epoch was, counted from 1 as Keras prints epochs, with the 0-based index the CSVs hold."""
    best, run, reason = attrs.get("best_epoch"), attrs.get("epochs_run"), attrs.get("stop_reason")
    if best is None:
        return f"({reason})"
    return f"at epoch {best + 1} of {run} run (best_epoch={best}, 0-based as in Keras's history; {reason})"
