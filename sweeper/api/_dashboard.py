"""``sweeper.dashboard``: optuna-dashboard on a study's storage, bound to localhost.

The server itself is ``api/_dashboard_server.py``, run in its own process.
"""

from __future__ import annotations

import os
import subprocess
import sys

import optuna

from sweeper._errors import StudyFileError
from sweeper.execution._framework import is_installed
from sweeper.execution._open_study import name_metric
from sweeper.storage._catalog import find_study
from sweeper.storage._open import open_storage
from sweeper.storage._redact import redact

HOST = "127.0.0.1"


def dashboard(
    study: str,
    *,
    runs_dir: str | os.PathLike[str] = "runs",
    storage: str | None = None,
    port: int = 8080,
    replace_process: bool = False,
) -> subprocess.Popen:
    """Starts optuna-dashboard on a study's storage, on ``127.0.0.1`` only, and prints its URL.

    The dashboard shows every study in that storage (a confirm run beside the study it
    confirms), with the monitored metric by name, and offers each kept checkpoint for
    download as its trial's artifact. Binding to localhost keeps the
    params and values off the network.

    Args:
        study: A study file or a study name.
        runs_dir: The runs folder. Defaults to ``"runs"``.
        storage: The storage. Defaults to the study's journal under ``runs_dir``.
        port: The port. Defaults to ``8080``.
        replace_process: Become the server instead of starting it beside this process,
            as ``sweeper dashboard`` does, so that Ctrl-C or a signal stops the server
            itself. Defaults to ``False``.

    Returns:
        The running server; stop it with ``terminate()``.

    Raises:
        StudyFileError: When optuna-dashboard is not installed, or no such study has run.
    """
    if not is_installed("optuna_dashboard"):
        raise StudyFileError(
            "optuna-dashboard is not installed.", fix="pip install 'sweeper[dashboard]' (or optuna-dashboard)."
        )
    ref = find_study(study, runs_dir, storage)
    for name in optuna.get_all_study_names(open_storage(ref.storage)):  # studies created before sweeper named them
        named = optuna.load_study(study_name=name, storage=open_storage(ref.storage))
        if "monitor" in named.user_attrs:
            name_metric(named, named.user_attrs["monitor"])
    print(f"optuna-dashboard on http://{HOST}:{port}/dashboard/ for {redact(ref.storage)}", flush=True)
    server = "sweeper.api._dashboard_server"
    command = [sys.executable, "-m", server, ref.storage, HOST, str(port), str(ref.runs_dir), ref.name]
    if replace_process:
        os.execv(sys.executable, command)
    return subprocess.Popen(command)
