"""sweeper against the tools users would otherwise pick: time and epochs to a good model.

    python benchmarks/peers.py --quick      # a few minutes on 2 cores: digits, 3 seeds, small budget
    python benchmarks/peers.py              # under an hour: digits and digits-300, 3 seeds
    python benchmarks/peers.py --replot DIR # tables and plot again from a finished run's CSVs

Every contender solves the same problem (benchmarks/_peers_problem.py: a small Conv2D
net on sklearn's digits, tuning filters, units, lr, EarlyStopping patience and
ReduceLROnPlateau factor) with the same maximum epochs per trial and the same budget of
epochs: the reference's trials x epochs. The pruning contenders spend it on as many trials
as it buys; KerasTuner spends it on whole Hyperband iterations.

1. sweeper-none: sweeper, no pruning. Its median best value over the seeds is the
   reference quality, the target every contender is timed to;
2. sweeper-median: sweeper, median pruning;
3. sweeper-hyperband: sweeper, Hyperband pruning;
4. kerastuner-hyperband: KerasTuner Hyperband, serial in one process (it has no
   parallel trials short of its gRPC chief/worker setup);
5. optuna-median: hand-written Optuna, study.optimize(n_jobs=2) threads with
   TFKerasPruningCallback and MedianPruner.

Each (problem, seed, contender) runs in a fresh process (benchmarks/_peers_run.py), one
at a time, seed-major so that drift in the machine's load hits every contender alike.
Wall times start when that process is launched, so they include Python and TensorFlow
start-up. Times to the target come from each trial's completion timestamp.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _peers_problem as problem  # noqa: E402  (constants only: no TensorFlow here)
from _peers_run import SWEEPER_PRUNERS  # noqa: E402  (its imports are light too)

REFERENCE = "sweeper-none"
KERASTUNER = "kerastuner-hyperband"
OPTUNA = "optuna-median"
CONTENDERS = ("sweeper-none", "sweeper-median", "sweeper-hyperband", KERASTUNER, OPTUNA)
# On request (--contenders ... sweeper-sha): successive halving, and the percentile pruner,
# which keeps the top quarter after the same warm-up as the median.
OPTIONAL = ("sweeper-sha", "sweeper-percentile")
KT_FACTOR = 3  # KerasTuner's default and documented reduction factor


@dataclass(frozen=True)
class Budget:
    """What every contender gets.

    Args:
        problems: Problem names (keys of ``_peers_problem.PROBLEMS``).
        seeds: Seeds; the summary is the median over them.
        epochs: The most epochs one trial (one model) trains.
        trials: Trials per sweep (Optuna-based contenders).
        jobs: Parallel trials, where the tool has them.
        times: Wall times (s) at which best-so-far is read.
    """

    problems: tuple[str, ...]
    seeds: tuple[int, ...]
    epochs: int
    trials: int
    jobs: int
    times: tuple[float, ...]


# Budgets where KerasTuner's whole Hyperband iterations come close to the reference's
# trials x epochs (quick: 49 of 48 epochs; full: 2 x 166 = 332 of 360).
# The pruned contenders get that same epoch budget, with room for more trials: what
# pruning saves buys more configurations, as Hyperband's budget does for KerasTuner.
PRUNED_TRIALS_CAP = 4  # x budget.trials; the epoch budget ends those sweeps first
QUICK = Budget(("digits",), (0, 1, 2), epochs=8, trials=6, jobs=2, times=(10, 20, 30))
FULL = Budget(("digits", "digits-300"), (0, 1, 2), epochs=15, trials=24, jobs=2, times=(30, 60, 120))


# --- the peers' settings --------------------------------------------------------------------


def kt_iteration(max_epochs: int, factor: int = KT_FACTOR) -> tuple[int, int]:
    """Epochs and trials of one KerasTuner Hyperband iteration, before early stopping.

    This replays ``keras_tuner.tuners.hyperband.HyperbandOracle``'s schedule (its
    ``_get_num_brackets``, ``_get_size`` and ``_get_epochs``). A round that continues a
    model trains only from ``initial_epoch`` on, so it costs the difference.

    Args:
        max_epochs: Hyperband's ``max_epochs``.
        factor: Hyperband's ``factor``.

    Returns:
        ``(epochs, trials)``.
    """
    brackets, epochs_left = 0, float(max_epochs)
    while epochs_left >= 1:
        epochs_left /= factor
        brackets += 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    total_epochs = total_trials = 0
    for bracket in range(brackets):
        previous = 0
        for round_num in range(bracket + 1):
            size = math.ceil(end_size / (bracket + 1) * factor ** (bracket - round_num))
            epochs = math.ceil(max_epochs / factor ** (bracket - round_num))
            total_epochs += size * (epochs - previous)
            total_trials += size
            previous = epochs
    return total_epochs, total_trials


def kt_iterations(budget: Budget) -> int:
    """Hyperband iterations for the budget.

    KerasTuner's docs: set ``hyperband_iterations`` "to as high a value as is within
    your resource budget". The budget is the no-pruning sweep's most epochs,
    ``trials * epochs``.
    """
    per_iteration, _ = kt_iteration(budget.epochs)
    return max(1, budget.trials * budget.epochs // per_iteration)


def sweeper_pruner(name: str, epochs: int) -> str:
    """The Optuna pruner sweeper builds for ``pruner=name``, for the settings printout.

    It asks sweeper itself (a private function, read only for display), so the printout
    follows whatever sweeper's defaults are on the day of the run.
    """
    try:
        import sweeper
        from sweeper.search._pruners import make_pruner

        study = sweeper.Study(name="peers", data=lambda: None, model=lambda trial: None, epochs=epochs, pruner=name)
        return describe(make_pruner(study))
    except Exception as error:  # noqa: BLE001  (display only)
        return f"pruner={name!r} ({type(error).__name__}: {error})"


def describe(pruner: object) -> str:
    """``MedianPruner(n_startup_trials=5, n_warmup_steps=2)`` from a pruner's private fields."""
    fields = {
        key.lstrip("_"): value
        for key, value in vars(pruner).items()
        if isinstance(value, (int, float, str)) and not isinstance(value, bool)
    }
    return f"{type(pruner).__name__}({', '.join(f'{k}={v}' for k, v in sorted(fields.items()))})"


def median_warmup(epochs: int) -> int:
    """The warm-up sweeper's median pruner uses, given to hand-written Optuna too.

    Optuna documents no best warm-up for MedianPruner (its default is 0); using
    sweeper's makes the two median contenders differ only in the engine.
    """
    try:
        import sweeper
        from sweeper.search._pruners import make_pruner

        study = sweeper.Study(name="peers", data=lambda: None, model=lambda trial: None, epochs=epochs, pruner="median")
        return int(make_pruner(study)._n_warmup_steps)
    except Exception:  # noqa: BLE001
        return max(2, epochs // 8)


def trial_budget(contender: str, budget: Budget) -> tuple[int, int | None]:
    """``(n_trials, epoch_budget)`` for an Optuna-based contender.

    The reference trains ``budget.trials`` whole trials, at most ``trials * epochs``
    epochs. A pruning contender gets those epochs, and as many trials as they buy.
    """
    if contender in (REFERENCE, KERASTUNER):  # KerasTuner's own budget is its Hyperband iterations
        return budget.trials, None
    return budget.trials * PRUNED_TRIALS_CAP, budget.trials * budget.epochs


def settings(contender: str, budget: Budget) -> str:
    """One line saying exactly what the contender runs with."""
    common = f"max {budget.epochs} epochs/trial, batch {problem.BATCH_SIZE}"
    if contender.startswith("sweeper-"):
        pruner = SWEEPER_PRUNERS[contender]
        trials, epoch_budget = trial_budget(contender, budget)
        return (
            f"sweeper.run(jobs={budget.jobs}, n_trials={trials}, epoch_budget={epoch_budget}), "
            f"Study(pruner={pruner!r}, sampler='tpe', seed) "
            f"-> {sweeper_pruner(pruner, budget.epochs)}; TPESampler(constant_liar=True); "
            f"+ ModelCheckpoint(best only) and TensorBoard, as users run it; {common}"
        )
    if contender == KERASTUNER:
        epochs, trials = kt_iteration(budget.epochs)
        iterations = kt_iterations(budget)
        return (
            f"keras_tuner.Hyperband(max_epochs={budget.epochs}, factor={KT_FACTOR}, hyperband_iterations={iterations}, "
            f"seed), executions_per_trial=1, serial (1 process, TF's default threads); callbacks tuned in "
            f"HyperModel.fit; at most {epochs * iterations} epochs in {trials * iterations} trials "
            f"(budget {budget.trials * budget.epochs}); {common}"
        )
    trials, epoch_budget = trial_budget(contender, budget)
    return (
        f"optuna.create_study(TPESampler(seed, constant_liar=True), MedianPruner(n_startup_trials=5, "
        f"n_warmup_steps={median_warmup(budget.epochs)})).optimize(n_trials={trials}, n_jobs={budget.jobs}, "
        f"callbacks=[study.stop() once the trials reported {epoch_budget} epochs]) "
        f"with TFKerasPruningCallback('{problem.MONITOR}'); {common}"
    )


# --- running --------------------------------------------------------------------------------


def run_contender(
    contender: str, problem_name: str, seed: int, budget: Budget, work: Path
) -> tuple[pd.DataFrame, float, float]:
    """Runs one contender in a fresh process.

    Args:
        contender: The contender.
        problem_name: The problem.
        seed: The seed.
        budget: The budget.
        work: A scratch folder for its runs, reports and log.

    Returns:
        The trials (times in seconds since launch), the wall time, and when the tool's
        call returned (seconds since launch).
    """
    work.mkdir(parents=True, exist_ok=True)
    out, log = work / "run.json", work / "run.log"
    trials, epoch_budget = trial_budget(contender, budget)
    command = [
        sys.executable,
        str(HERE / "_peers_run.py"),
        contender,
        "--problem",
        problem_name,
        "--seed",
        str(seed),
        "--epochs",
        str(budget.epochs),
        "--trials",
        str(trials),
        "--jobs",
        str(budget.jobs),
        "--warmup",
        str(median_warmup(budget.epochs)),
        "--kt-iterations",
        str(kt_iterations(budget)),
        "--work",
        str(work),
        "--out",
        str(out),
    ]
    if epoch_budget:
        command += ["--epoch-budget", str(epoch_budget)]
    with log.open("w") as log_file:
        launched = time.time()
        returncode = subprocess.call(
            command, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        )
        wall = time.time() - launched
    if returncode != 0:
        raise SystemExit(f"{contender} on {problem_name} seed {seed} failed ({returncode}):\n{log.read_text()[-4000:]}")
    result = json.loads(out.read_text())
    trials = pd.DataFrame(result["trials"])
    for column in ("t_start", "t_end"):
        trials[column] = trials[column] - launched
    return trials, wall, result["t_done"] - launched


def run_all(budget: Budget, contenders: tuple[str, ...], scratch: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every (problem, seed, contender), one at a time.

    Returns:
        The trials of every run, and one row per run with its wall time.
    """
    all_trials, runs = [], []
    total = len(budget.problems) * len(budget.seeds) * len(contenders)
    for problem_name in budget.problems:
        for seed in budget.seeds:
            for contender in contenders:
                trials, wall, done = run_contender(
                    contender, problem_name, seed, budget, scratch / problem_name / f"s{seed}" / contender
                )
                key = {"problem": problem_name, "contender": contender, "seed": seed}
                all_trials.append(trials.assign(**key))
                runs.append({**key, "wall_s": round(wall, 2), "done_s": round(done, 2)})
                best = trials["value"].max()
                print(
                    f"  [{len(runs)}/{total}] {problem_name:<10} seed {seed}  {contender:<21} "
                    f"{wall:6.1f} s  {int(trials['epochs'].sum()):4d} epochs  best {best:.4f}",
                    flush=True,
                )
    return pd.concat(all_trials, ignore_index=True), pd.DataFrame(runs)


# --- measuring ------------------------------------------------------------------------------


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials in completion order, with the tool's best value so far and the epochs spent.

    A trial's value is what the tool itself would report as a result: COMPLETE trials
    for the Optuna-based tools (a pruned trial has none), every finished round for
    KerasTuner. Epochs spent count every trial finished by then, pruned ones included.
    """
    ordered = trials.dropna(subset=["t_end"]).sort_values("t_end")
    return ordered.assign(best=ordered["value"].fillna(-np.inf).cummax(), epochs_spent=ordered["epochs"].cumsum())


def run_metrics(
    trials: pd.DataFrame, wall: float, done: float, target: float, times: tuple[float, ...], slots: int
) -> dict[str, float]:
    """One run's numbers.

    Args:
        trials: The run's trials.
        wall: The run's wall time.
        done: When the tool's call returned, since launch.
        target: The reference quality.
        times: Wall times at which best-so-far is read.
        slots: Trials the tool ran at once (the fit share's denominator).

    Returns:
        Best value, epochs, wall, time and epochs to the target (inf when never
        reached), best-so-far at each time (-inf before any result), and diagnostics.
    """
    curve = best_so_far(trials)
    reached = curve[curve["best"] >= target]
    outside_fit = trials["t_end"] - trials["t_start"] - trials["fit_s"]
    metrics = {
        "best": curve["best"].max() if len(curve) else -np.inf,
        "epochs": float(trials["epochs"].sum()),
        "wall_s": wall,
        "time_to_target_s": reached["t_end"].iloc[0] if len(reached) else np.inf,
        "epochs_to_target": reached["epochs_spent"].iloc[0] if len(reached) else np.inf,
        "trials": float(len(trials)),
        "pruned": float((trials["state"] == "PRUNED").sum()),
        "failed": float(trials["state"].isin(["FAIL", "FAILED", "INVALID"]).sum()),
        "first_result_s": curve["t_end"].iloc[0] if len(curve) else np.inf,
        # From the last trial's end to the tool's return: sweeper writes its reports there.
        "finish_s": done - trials["t_end"].max(),
        "exit_s": wall - done,
        # A trial's time outside model.fit, start to end as the tool stamps it: build,
        # callbacks, storage, and for sweeper the wait for a worker to be ready. The
        # median is the steady per-trial cost; the total adds the one-off waits.
        "outside_fit_s": outside_fit.median(),
        "outside_fit_total_s": outside_fit.sum(),
        # Share of the tool's trial slots spent inside model.fit: the rest is start-up,
        # per-trial overhead, idle slots and the reports.
        "fit_share": trials["fit_s"].fillna(0).sum() / (slots * wall),
        **worker_waits(trials),
    }
    for seconds in times:
        finished = curve[curve["t_end"] <= seconds]
        metrics[f"best_at_{seconds:g}s"] = finished["best"].iloc[-1] if len(finished) else -np.inf
    return metrics


def worker_waits(trials: pd.DataFrame) -> dict[str, float]:
    """sweeper only: trials that waited over 2 s for a worker, and the worker's memory growth.

    A trial is asked (``t_start``) when a slot frees up; ``duration_s`` starts when a
    worker picks it up. A long gap is a worker still importing TensorFlow: the second
    worker at start-up, or one replacing a worker recycled past its memory budget.
    """
    if "duration_s" not in trials or trials["duration_s"].isna().all():
        return {"waits": np.nan, "wait_s": np.nan, "rss_mb_per_trial": np.nan}
    wait = trials["t_end"] - trials["t_start"] - trials["duration_s"]
    growth = np.nan
    if "rss_mb" in trials and trials["rss_mb"].notna().any():
        per_worker = trials.sort_values("t_end").groupby("pid")["rss_mb"]
        slopes = per_worker.agg(lambda rss: (rss.iloc[-1] - rss.iloc[0]) / (len(rss) - 1) if len(rss) > 1 else np.nan)
        growth = slopes.median()
    return {"waits": float((wait > 2).sum()), "wait_s": float(wait[wait > 2].sum()), "rss_mb_per_trial": growth}


def replayed_trials(
    curves: list[list[float]], pruner: Any, best_so_far: bool = True
) -> list[tuple[list[float], int | None]]:
    """Replays a pruner over finished learning curves, one trial after another.

    The curves come from the no-pruning sweep, so every trial's full curve is known
    and each pruner (or way of reporting) is judged on the very same trials: sweeper's
    pruning bridge reports the best value so far, TFKerasPruningCallback the epoch's value.

    Args:
        curves: Each trial's val_accuracy per epoch, in trial order.
        pruner: A fresh Optuna pruner (it keeps state across trials).
        best_so_far: Report the running best (sweeper) instead of the raw value.
            Defaults to True.

    Returns:
        Each non-empty curve with the epochs it trained before the pruner stopped it,
        or ``None`` where it ran to the end.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # A fixed name: HyperbandPruner picks a trial's bracket from a hash of it.
    study = optuna.create_study(study_name="replay", direction="maximize", pruner=pruner)
    replayed = []
    for curve in (c for c in curves if c):
        trial = study.ask()
        reported = np.maximum.accumulate(curve) if best_so_far else np.asarray(curve)
        pruned_at = None
        for step, value in enumerate(reported):
            trial.report(float(value), step)
            if trial.should_prune():
                pruned_at = step + 1
                break
        if pruned_at is None:
            study.tell(trial, max(curve))
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        replayed.append((curve, pruned_at))
    return replayed


def replay_summary(replayed: list[tuple[list[float], int | None]], target: float) -> dict[str, float]:
    """Trials pruned, epochs spent, the best value kept, and the pruned trials that
    would have reached ``target`` had they run on."""
    kept = [max(curve) for curve, pruned_at in replayed if pruned_at is None]
    return {
        "pruned": sum(pruned_at is not None for _, pruned_at in replayed),
        "epochs": sum(len(curve) if pruned_at is None else pruned_at for curve, pruned_at in replayed),
        "best kept": max(kept, default=-np.inf),
        "pruned that reach target": sum(
            pruned_at is not None and max(curve) >= target for curve, pruned_at in replayed
        ),
    }


def replay_pruner(curves: list[list[float]], pruner: Any, target: float, best_so_far: bool = True) -> dict[str, float]:
    """:func:`replay_summary` of :func:`replayed_trials`, for one target."""
    return replay_summary(replayed_trials(curves, pruner, best_so_far), target)


def replay_median(curves: list[list[float]], warmup: int, target: float, best_so_far: bool) -> dict[str, float]:
    """:func:`replay_pruner` with ``MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)``."""
    import optuna

    return replay_pruner(
        curves, optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup), target, best_so_far
    )


def pruning_replay(trials: pd.DataFrame, targets: dict[str, float], warmup: int) -> str:
    """The median-pruning replay on every no-pruning sweep, medians over the seeds."""
    if "curve" not in trials:
        return ""
    out = [
        f"\nmedian pruning replayed on {REFERENCE}'s curves (same trials, in trial order, MedianPruner("
        f"n_startup_trials=5, n_warmup_steps={warmup})), medians over seeds:"
    ]
    for problem_name, target in targets.items():
        reference = trials[(trials["problem"] == problem_name) & (trials["contender"] == REFERENCE)]
        rows = []
        for label, best_so_far in (
            ("best so far (sweeper's bridge)", True),
            ("epoch value (TFKerasPruningCallback)", False),
        ):
            per_seed = [
                replay_median(
                    [json.loads(c) for c in run.sort_values("number")["curve"].fillna("[]")],
                    warmup,
                    target,
                    best_so_far,
                )
                for _, run in reference.groupby("seed")
            ]
            medians = pd.DataFrame(per_seed).median()
            rows.append(
                [
                    label,
                    fmt(medians["pruned"], 0),
                    fmt(medians["epochs"], 0),
                    fmt(medians["best kept"], 4),
                    fmt(medians["pruned that reach target"], 0),
                ]
            )
        out.append(f"\n{problem_name} (target {target:.4f}):\n")
        out.append(
            _markdown(["reported value", "pruned", "epochs", "best kept", "pruned trials that reach the target"], rows)
        )
    return "\n".join(out)


def slots_of(contender: str, jobs: int) -> int:
    return 1 if contender == KERASTUNER else jobs


def per_run(
    trials: pd.DataFrame, runs: pd.DataFrame, times: tuple[float, ...], jobs: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every run's metrics against its problem's target.

    Returns:
        One row per run, and each problem's target (the reference's median best).
    """
    targets, rows = {}, []
    for problem_name, problem_runs in runs.groupby("problem", sort=False):
        reference_best = [
            trials.loc[
                (trials["problem"] == problem_name) & (trials["contender"] == REFERENCE) & (trials["seed"] == seed),
                "value",
            ].max()
            for seed in problem_runs.loc[problem_runs["contender"] == REFERENCE, "seed"]
        ]
        if not reference_best:
            raise SystemExit(f"{REFERENCE} did not run on {problem_name}: it sets the target.")
        targets[problem_name] = target = float(np.median(reference_best))
        for run in problem_runs.itertuples():
            run_trials = trials[
                (trials["problem"] == problem_name)
                & (trials["contender"] == run.contender)
                & (trials["seed"] == run.seed)
            ]
            done = getattr(run, "done_s", run.wall_s)  # older CSVs lack it
            metrics = run_metrics(run_trials, run.wall_s, done, target, times, slots_of(run.contender, jobs))
            rows.append({"problem": problem_name, "contender": run.contender, "seed": run.seed, **metrics})
    return pd.DataFrame(rows), targets


def summarise(metrics: pd.DataFrame, times: tuple[float, ...]) -> pd.DataFrame:
    """Medians over the seeds, and ratios of medians against the reference and KerasTuner.

    A run that never reached the target counts as infinitely slow, so a median is
    finite only when most seeds reached it.
    """
    numeric = [c for c in metrics.columns if c not in ("problem", "contender", "seed")]
    grouped = metrics.groupby(["problem", "contender"], sort=False)
    summary = grouped[numeric].median()
    summary["reached"] = grouped["time_to_target_s"].apply(lambda s: f"{int(np.isfinite(s).sum())}/{len(s)}")
    summary["seeds"] = grouped.size()
    for against, label in ((REFERENCE, "ref"), (KERASTUNER, "kt")):
        for column in ("epochs", "wall_s", "time_to_target_s", "epochs_to_target"):
            base = (
                summary[column].xs(against, level="contender") if against in summary.index.get_level_values(1) else None
            )
            if base is None:
                continue
            denominator = summary.index.get_level_values("problem").map(base).to_numpy()
            ratio = summary[column] / denominator
            # A ratio against a run that never got there (or to one) means nothing.
            summary[f"{column}/{label}"] = ratio.where(np.isfinite(summary[column]) & np.isfinite(denominator))
    return summary


# --- reporting ------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if np.isinf(value):
        return "never" if value > 0 else "none yet"
    return f"{value:.{digits}f}{suffix}"


def tables(summary: pd.DataFrame, targets: dict[str, float], times: tuple[float, ...]) -> str:
    """The printed (markdown) tables: results, ratios and diagnostics, per problem."""
    out = []
    for problem_name, target in targets.items():
        rows = summary.xs(problem_name, level="problem")
        seeds = int(rows["seeds"].max())
        out.append(
            f"\n### {problem_name} ({problem.PROBLEMS[problem_name]} training images): target = "
            f"{REFERENCE}'s median best = {target:.4f}; medians over {seeds} seeds\n"
        )
        head = ["contender", "best val_acc", "epochs", "wall s", "time to target s", "epochs to target"]
        head += [f"best @{t:g}s" for t in times]
        out.append(
            _markdown(
                head,
                [
                    [
                        name,
                        fmt(r["best"], 4),
                        fmt(r["epochs"], 0),
                        fmt(r["wall_s"]),
                        f"{fmt(r['time_to_target_s'])} ({r['reached']})",
                        fmt(r["epochs_to_target"], 0),
                        *[fmt(r[f"best_at_{t:g}s"], 4) for t in times],
                    ]
                    for name, r in rows.iterrows()
                ],
            )
        )
        out.append("\nratios of medians (lower is better):\n")
        head = [
            "contender",
            "epochs/ref",
            "wall/ref",
            "ttt/ref",
            "epochs to target/ref",
            "epochs/KT",
            "wall/KT",
            "ttt/KT",
            "epochs to target/KT",
        ]
        out.append(
            _markdown(
                head,
                [
                    [
                        name,
                        *[
                            fmt(r.get(f"{c}/{label}", np.nan), 2)
                            for label in ("ref", "kt")
                            for c in ("epochs", "wall_s", "time_to_target_s", "epochs_to_target")
                        ],
                    ]
                    for name, r in rows.iterrows()
                ],
            )
        )
        out.append("\ndiagnostics (medians): where the wall time goes\n")
        out.append(
            _markdown(
                [
                    "contender",
                    "trials",
                    "pruned",
                    "failed",
                    "first result s",
                    "s outside fit: trial, all",
                    "waits for a worker: n, s",
                    "worker MB/trial",
                    "last trial to return s",
                    "exit s",
                    "fit share of slots",
                ],
                [
                    [
                        name,
                        fmt(r["trials"], 0),
                        fmt(r["pruned"], 0),
                        fmt(r["failed"], 0),
                        fmt(r["first_result_s"]),
                        f"{fmt(r['outside_fit_s'], 2)}, {fmt(r['outside_fit_total_s'])}",
                        "" if np.isnan(r["waits"]) else f"{fmt(r['waits'], 0)}, {fmt(r['wait_s'])}",
                        "" if np.isnan(r["rss_mb_per_trial"]) else fmt(r["rss_mb_per_trial"], 1),
                        fmt(r["finish_s"]),
                        fmt(r["exit_s"]),
                        fmt(r["fit_share"], 2),
                    ]
                    for name, r in rows.iterrows()
                ],
            )
        )
    return "\n".join(out)


def _markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def target_checks(summary: pd.DataFrame, targets: dict[str, float]) -> str:
    """The issue's targets for sweeper with pruning, checked on the medians."""
    lines = ["\ntargets for sweeper with pruning:"]
    for problem_name in targets:
        rows = summary.xs(problem_name, level="problem")
        if REFERENCE not in rows.index:
            continue
        reference_epochs = rows.loc[REFERENCE, "epochs"]
        for name in (n for n in rows.index if n.startswith("sweeper-") and n != REFERENCE):
            epochs = rows.loc[name, "epochs_to_target"]
            verdict = "PASS" if epochs <= reference_epochs / 2 else "FAIL"
            lines.append(
                f"  {problem_name:<10} {name:<18} epochs to target {fmt(epochs, 0)} vs half of "
                f"{REFERENCE}'s {reference_epochs:.0f} epochs: {verdict}"
            )
            ttt = rows.loc[name, "time_to_target_s"]
            for peer in (KERASTUNER, OPTUNA):
                if peer in rows.index:
                    peer_ttt = rows.loc[peer, "time_to_target_s"]
                    verdict = "PASS" if ttt < peer_ttt else "FAIL"
                    lines.append(
                        f"  {problem_name:<10} {name:<18} time to target {fmt(ttt)} s vs {peer} "
                        f"{fmt(peer_ttt)} s: {verdict}"
                    )
    return "\n".join(lines) if len(lines) > 1 else ""


def plot(
    trials: pd.DataFrame, runs: pd.DataFrame, targets: dict[str, float], times: tuple[float, ...], path: Path
) -> None:
    """Best-so-far against wall time: every seed thin, the median over seeds bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(targets), figsize=(7 * len(targets), 4.8), squeeze=False)
    for ax, (problem_name, target) in zip(axes[0], targets.items(), strict=False):
        problem_runs = runs[runs["problem"] == problem_name]
        grid = np.linspace(0, problem_runs["wall_s"].max(), 600)
        for index, (contender, contender_runs) in enumerate(problem_runs.groupby("contender", sort=False)):
            color = f"C{index}"
            curves = []
            for seed in contender_runs["seed"]:
                curve = best_so_far(
                    trials[
                        (trials["problem"] == problem_name)
                        & (trials["contender"] == contender)
                        & (trials["seed"] == seed)
                    ]
                )
                steps = np.searchsorted(curve["t_end"].to_numpy(), grid, side="right")
                values = np.concatenate([[-np.inf], curve["best"].to_numpy()])[steps]
                curves.append(values)
                ax.step(
                    grid, np.where(np.isfinite(values), values, np.nan), where="post", color=color, alpha=0.25, lw=0.8
                )
            median = np.median(np.array(curves), axis=0)  # no result yet counts as the worst
            ax.step(
                grid, np.where(np.isfinite(median), median, np.nan), where="post", color=color, lw=2, label=contender
            )
        ax.axhline(target, color="black", ls="--", lw=1, label=f"target {target:.4f}")
        for seconds in times:
            ax.axvline(seconds, color="grey", ls=":", lw=0.8)
        ax.set_ylim(max(0.0, target - 4 * (1 - target) - 0.02), min(1.0, target + 1.5 * (1 - target) + 0.005))
        ax.set(
            title=f"{problem_name} ({problem.PROBLEMS[problem_name]} training images)",
            xlabel="wall time since launch (s)",
            ylabel="best val_accuracy so far",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(trials: pd.DataFrame, runs: pd.DataFrame, budget: Budget, out: Path) -> None:
    """Prints the tables and writes the CSVs and the PNG."""
    metrics, targets = per_run(trials, runs, budget.times, budget.jobs)
    summary = summarise(metrics, budget.times)
    print(tables(summary, targets, budget.times))
    print(pruning_replay(trials, targets, median_warmup(budget.epochs)))
    print(target_checks(summary, targets))
    out.mkdir(parents=True, exist_ok=True)
    trials.to_csv(out / "peers_trials.csv", index=False)
    runs.to_csv(out / "peers_runs.csv", index=False)
    metrics.to_csv(out / "peers_per_seed.csv", index=False)
    summary.reset_index().assign(target=lambda s: s["problem"].map(targets)).to_csv(out / "peers.csv", index=False)
    plot(trials, runs, targets, budget.times, out / "peers.png")
    print(
        f"\nwrote {out / 'peers.csv'} (medians), peers_per_seed.csv, peers_trials.csv, peers_runs.csv "
        f"and {out / 'peers.png'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK}")
    parser.add_argument("--problems", nargs="+", choices=sorted(problem.PROBLEMS))
    parser.add_argument("--seeds", type=int, help="number of seeds (0, 1, ...); at least 3 for a median worth printing")
    parser.add_argument("--epochs", type=int, help="most epochs per trial")
    parser.add_argument("--trials", type=int, help="trials per Optuna-based sweep")
    parser.add_argument("--times", type=float, nargs="+", help="wall times (s) at which best-so-far is read")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS + OPTIONAL, default=list(CONTENDERS))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "sweeper-peers",
        help="where the CSVs and the PNG go (default: %(default)s)",
    )
    parser.add_argument("--replot", type=Path, metavar="DIR", help="tables and plot from DIR's CSVs; runs nothing")
    args = parser.parse_args()

    base = QUICK if args.quick else FULL
    budget = Budget(
        problems=tuple(args.problems or base.problems),
        seeds=tuple(range(args.seeds)) if args.seeds else base.seeds,
        epochs=args.epochs or base.epochs,
        trials=args.trials or base.trials,
        jobs=base.jobs,
        times=tuple(args.times or base.times),
    )
    if args.replot:
        report(
            pd.read_csv(args.replot / "peers_trials.csv"),
            pd.read_csv(args.replot / "peers_runs.csv"),
            budget,
            args.replot,
        )
        return
    # In the table's order; the reference always runs, as it sets the target.
    contenders = tuple(c for c in CONTENDERS + OPTIONAL if c == REFERENCE or c in args.contenders)
    print(
        f"peers: {', '.join(budget.problems)}; seeds {list(budget.seeds)}; "
        f"a budget of {budget.trials} trials x at most "
        f"{budget.epochs} epochs ({budget.trials * budget.epochs} epochs); {os.cpu_count()} cores; "
        f"each run in a fresh process, one at a time\n"
    )
    print("settings:")
    for contender in contenders:
        print(f"  {contender:<21} {settings(contender, budget)}")
    print(
        f"  search space: filters {problem.FILTERS} log, units {problem.UNITS} log, lr {problem.LR} log, "
        f"EarlyStopping.patience {problem.PATIENCES} "
        f"(min_delta={problem.EARLY_STOPPING_MIN_DELTA}, restore_best_weights), "
        f"ReduceLROnPlateau.factor {problem.FACTORS} (patience={problem.LR_PATIENCE}, min_lr={problem.MIN_LR}); "
        f"monitor {problem.MONITOR}"
    )
    splits = (
        f"{name} trains on {problem.PROBLEMS[name]} images, validates on the other "
        f"{problem.N_IMAGES - problem.PROBLEMS[name]}"
        for name in budget.problems
    )
    print(f"  problems: {'; '.join(splits)}\n", flush=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="sweeper-peers-") as scratch:
        trials, runs = run_all(budget, contenders, Path(scratch))
    print(f"\nall runs: {time.time() - started:.0f} s")
    report(trials, runs, budget, args.out)


if __name__ == "__main__":
    main()
