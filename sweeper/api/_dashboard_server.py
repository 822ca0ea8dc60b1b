"""optuna-dashboard's server: ``python -m sweeper.api._dashboard_server STORAGE HOST PORT RUNS_DIR STUDY``.

It opens the storage as sweeper does (a journal file or an RDB URL), serves the kept
checkpoints from the runs folder's artifact stores, and ends quietly on Ctrl-C. Nothing
imports this module (``python -m`` would then run it twice): it is the server's own
process, started by ``api/_dashboard.py``.
"""

from __future__ import annotations

import sys

from sweeper.storage._artifacts import RunsArtifactStore
from sweeper.storage._open import open_storage


def serve(storage: str, host: str, port: int, runs_dir: str, study_name: str) -> None:
    """Serves optuna-dashboard on ``storage`` at ``http://<host>:<port>/`` until interrupted.

    Args:
        storage: A journal file path or an RDB URL.
        host: The address to bind.
        port: The port.
        runs_dir: The runs folder, whose studies' artifact folders hold the kept checkpoints.
        study_name: The study whose artifact folder takes uploads from the dashboard.
    """
    from optuna_dashboard import run_server

    store = RunsArtifactStore(runs_dir, study_name)
    try:
        run_server(open_storage(storage), host=host, port=port, artifact_store=store)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a user stops it: no traceback


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
