"""``sweeper.report``: rebuild a study's reports under ``reports/<study>/``, at any time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sweeper.reports._build import build_report
from sweeper.reports._report import Report
from sweeper.reports._write import write_report
from sweeper.storage._catalog import find_study, load_optuna_study


@dataclass(frozen=True)
class WrittenReport:
    """A study's report tables, and the files they were written to.

    Args:
        report: The tables.
        files: The written paths by file name (``trials.csv``, ..., ``report.html``).
    """

    report: Report
    files: dict[str, Path]


def report(
    study: str,
    *,
    runs_dir: str | os.PathLike[str] = "runs",
    storage: str | None = None,
    reports_dir: str | os.PathLike[str] = "reports",
) -> WrittenReport:
    """Builds a study's reports from its storage and TensorBoard logs, and writes them.

    What ``sweeper report`` runs; it works while the sweep is still running too.

    Args:
        study: A study file or a study name.
        runs_dir: The runs folder. Defaults to ``"runs"``.
        storage: The storage. Defaults to the study's journal under ``runs_dir``.
        reports_dir: Where reports go; they land in ``<reports_dir>/<study>/``.
            Defaults to ``"reports"``.

    Returns:
        The tables and the written files.

    Raises:
        StudyFileError: When no such study has run.
    """
    ref = find_study(study, runs_dir, storage)
    built = build_report(ref, load_optuna_study(ref))
    return WrittenReport(built, write_report(built, Path(reports_dir) / ref.name))
