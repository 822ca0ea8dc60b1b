"""Where a study's Optuna storage lives, and opening it: a journal file or an RDB URL."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna

from sweeper._errors import StudyFileError
from sweeper.storage._heartbeat import HeartbeatPolicy
from sweeper.storage._redact import redact

JOURNAL_FILENAME = "journal.log"
SQLITE_LOCK_TIMEOUT_S = 60
CONNECT_TIMEOUT_S = 10
RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "oracle", "mssql")


def default_storage(study_dir: Path) -> str:
    """The embedded default: an Optuna journal file in the study's runs folder.

    A journal file needs no server and takes concurrent writers through file locks.
    It has no heartbeat; sweeper's engine notices dead workers itself.
    """
    return str((study_dir / JOURNAL_FILENAME).resolve())


def is_rdb_url(storage: str) -> bool:
    return storage.split(":", 1)[0].split("+", 1)[0] in RDB_SCHEMES


def open_storage(
    storage: str, heartbeat: HeartbeatPolicy | None = None, retries: int = 1
) -> optuna.storages.BaseStorage:
    """Opens a storage from an RDB URL or a journal file path.

    Args:
        storage: ``sqlite:///x.db``, ``postgresql://...`` and other SQLAlchemy URLs,
            or the path of a journal file.
        heartbeat: For an RDB URL, record heartbeats of running trials and retry
            stale ones. Defaults to ``None`` (no heartbeat).
        retries: With ``heartbeat``, how often a stale trial is retried. Defaults to ``1``.

    Returns:
        The storage.

    Raises:
        StudyFileError: When the storage cannot be opened; the message names the
            URL with its password redacted.
    """
    try:
        if is_rdb_url(storage):
            extra = heartbeat.rdb_kwargs(retries) if heartbeat else {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat arguments
                return optuna.storages.RDBStorage(storage, engine_kwargs=_engine_kwargs(storage), **extra)
        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage))
    except Exception as error:
        raise StudyFileError(
            f"cannot open storage {redact(storage)}: {type(error).__name__}: {redact(_first_line(error))}",
            fix="check the URL and that its server is up; PostgreSQL needs pip install 'sweeper[distributed]'.",
        ) from None


def _engine_kwargs(url: str) -> dict:
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme == "sqlite":
        # Many workers write at once; wait for the lock instead of failing with "database is locked".
        return {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}}
    if scheme == "postgresql":
        # An unreachable server fails in seconds instead of hanging on TCP retries.
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
    return {}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
