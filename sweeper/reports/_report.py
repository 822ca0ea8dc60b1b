"""``Report``: everything the reports show about one study, as pandas tables."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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
    """

    study_name: str
    monitor: str
    mode: str
    trials: pd.DataFrame
    epochs: pd.DataFrame
    settings: pd.DataFrame
    importances: dict[str, float]

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
