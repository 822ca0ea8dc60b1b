"""``Report``: everything the reports show about one study, as pandas tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sweeper.reports._replay import RECORDED_COLUMNS, REPLAY_COLUMNS, SUMMARY_COLUMNS
from sweeper.trial._outcome import last_line, raised_at


@dataclass(frozen=True)
class Report:
    """Everything the reports show about one study.

    Args:
        study_name: The study's name.
        monitor: The monitored quantity, e.g. ``"val_accuracy"``.
        mode: ``"max"`` or ``"min"``.
        trials: One row per trial (``trials.csv``).
        epochs: One row per (trial, epoch), from TensorBoard (``epochs.csv``).
        settings: One row per combination of callback settings (``settings.csv``).
        importances: Optuna's parameter importances, or empty when there are too
            few completed trials to compute them.
        early_stopping: Each trial's EarlyStopping as it ran (monitor, resolved mode,
            patience, min_delta, baseline, start_from_epoch, restore_best_weights) and
            the study's ``max_epochs``; empty without a ``sweeper.EarlyStopping``.
        replay: One row per (trial, replayed EarlyStopping setting) (``replay.csv``).
        replay_summary: One row per replayed setting (``replay_summary.csv``).
        observations: The results ``settings`` compares, one row per (trial, setting),
            with the pairing unit (model params and seed) and what acted; a confirm
            run's trials appear once per setting replayed from them (``observations.csv``).
        settings_notes: What the report says beside ``settings``: paired or not,
            confounded, underpowered, and what to run instead.
        confirm_of: The study this one confirms, for a confirm run; else ``None``.
    """

    study_name: str
    monitor: str
    mode: str
    trials: pd.DataFrame
    epochs: pd.DataFrame
    settings: pd.DataFrame
    importances: dict[str, float]
    early_stopping: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RECORDED_COLUMNS))
    replay: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REPLAY_COLUMNS))
    replay_summary: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SUMMARY_COLUMNS))
    observations: pd.DataFrame = field(default_factory=pd.DataFrame)
    settings_notes: tuple[str, ...] = ()
    confirm_of: str | None = None

    @property
    def best(self) -> pd.Series | None:
        """The best COMPLETE trial's row, or ``None``."""
        complete = self.trials[self.trials["state"] == "COMPLETE"].dropna(subset=["value"])
        if complete.empty:
            return None
        index = complete["value"].idxmax() if self.mode == "max" else complete["value"].idxmin()
        return complete.loc[index]

    def failure_lines(self) -> list[str]:
        """One line per failed trial with its error's last line, and where it was raised if known."""
        lines = []
        for failed in self.trials[self.trials["state"] == "FAIL"].itertuples():
            lines.append(f"  trial {failed.trial} failed ({failed.stop_reason}): {last_line(failed.error)}")
            if raised_at(failed.error):
                lines.append(f"    {raised_at(failed.error)}")
        return lines
