"""``sweeper.tensorboard``: TensorBoard on a study's trials, bound to localhost."""

from __future__ import annotations

import os
import subprocess
import sys

from sweeper.storage._catalog import find_study

HOST = "127.0.0.1"


def tensorboard(
    study: str, *, runs_dir: str | os.PathLike[str] = "runs", port: int = 6006, replace_process: bool = False
) -> subprocess.Popen:
    """Starts TensorBoard on a study's trials, with its HParams dashboard, on ``127.0.0.1`` only.

    Prints the URL. Binding to localhost keeps the logs (and the params) off the network.

    Args:
        study: A study file or a study name.
        runs_dir: The runs folder. Defaults to ``"runs"``.
        port: The port. Defaults to ``6006``.
        replace_process: Become TensorBoard instead of starting it beside this
            process, as ``sweeper tensorboard`` does, so that a signal to it stops the
            server itself. Defaults to ``False``.

    Returns:
        The running server; stop it with ``terminate()``.

    Raises:
        StudyFileError: When no such study has run.
    """
    logdir = find_study(study, runs_dir).study_dir / "trials"
    print(f"TensorBoard on http://{HOST}:{port}/ for {logdir}", flush=True)
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", HOST, "--port", str(port)]
    if replace_process:
        os.execv(sys.executable, command)
    return subprocess.Popen(command)
