"""optuna-dashboard's server on one storage: ``python -m sweeper.api._dashboard_server STORAGE HOST PORT``.

It opens the storage as sweeper does (a journal file or an RDB URL) and ends quietly
on Ctrl-C. Nothing imports this module (``python -m`` would then run it twice): it is
the server's own process, started by ``api/_dashboard.py``.
"""

from __future__ import annotations

import sys

from sweeper.storage._open import open_storage


def serve(storage: str, host: str, port: int) -> None:
    """Serves optuna-dashboard on ``storage`` at ``http://<host>:<port>/`` until interrupted.

    Args:
        storage: A journal file path or an RDB URL.
        host: The address to bind.
        port: The port.
    """
    from optuna_dashboard import run_server

    try:
        run_server(open_storage(storage), host=host, port=port)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a user stops it: no traceback


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
