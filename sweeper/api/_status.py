"""``sweeper.status``: where a sweep running elsewhere is, read without writing to it."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from sweeper.execution._status import StudyStatus, study_status
from sweeper.execution._status_view import render_plain, render_terminal
from sweeper.storage._catalog import find_study, load_optuna_study


@dataclass(frozen=True)
class SweepStatus(StudyStatus):
    """A sweep's status at one moment, as ``sweeper status`` prints it.

    Its fields are ``StudyStatus``'s: ``running`` (a DataFrame, one row per RUNNING
    trial: ``trial``, ``worker``, ``device``, ``epoch`` of ``epochs``, ``batch`` of
    ``steps``, ``value``, ``best``, ``elapsed_s``, ``updated_s_ago``, ``source``,
    ``health``), the result counts ``complete``, ``pruned`` and ``failed``,
    ``n_trials``, ``epoch_budget``, ``epochs_trained``, ``best_value`` and
    ``best_trial``, the measured ``epochs_per_s`` and the estimated ``eta_s``, and
    ``is_running`` with its ``reason``.
    """

    def text(self, terminal: bool = False, width: int | None = None) -> str:
        """The status as text: header lines, then the running trials' table.

        Args:
            terminal: Style it for a terminal, with escape codes; otherwise plain
                text, for logs and pipes. Defaults to ``False``.
            width: With ``terminal``, the width to fit. Defaults to the terminal's.

        Returns:
            The text, ending with a newline.
        """
        return render_terminal(self, width) if terminal else render_plain(self)


def status(study: str, *, runs_dir: str | os.PathLike[str] = "runs", storage: str | None = None) -> SweepStatus:
    """Where a sweep is, read from its storage and its trials' progress files.

    What ``sweeper status`` prints. It works on a sweep running in another terminal or
    on other machines (with ``storage`` and a shared ``runs_dir``), and never writes
    to the study.

    Args:
        study: A study file (``studies/digits.py``) or a study name (``digits``).
        runs_dir: The runs folder. Defaults to ``"runs"``.
        storage: The storage. Defaults to the study's journal under ``runs_dir``.

    Returns:
        The status.

    Raises:
        StudyFileError: When no such study has run.
    """
    ref = find_study(study, runs_dir, storage)
    found = study_status(load_optuna_study(ref), ref.study_dir / "trials")
    return SweepStatus(**{field.name: getattr(found, field.name) for field in fields(found)})
