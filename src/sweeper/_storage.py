"""Where a study's Optuna storage lives, and how to name it without leaking secrets."""

from __future__ import annotations

import re
from pathlib import Path

import optuna

JOURNAL_FILENAME = "journal.log"
RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "oracle", "mssql")
_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?P<tail>@)")


def default_storage(study_dir: Path) -> str:
    """The embedded default: an Optuna journal file in the study's runs folder.

    A journal file needs no server and takes concurrent writers through file locks.
    It has no heartbeat; sweeper's engine notices dead workers itself.
    """
    return str((study_dir / JOURNAL_FILENAME).resolve())


def is_rdb_url(storage: str) -> bool:
    return storage.split(":", 1)[0].split("+", 1)[0] in RDB_SCHEMES


def open_storage(storage: str) -> optuna.storages.BaseStorage:
    """Opens a storage from an RDB URL or a journal file path.

    Args:
        storage: ``sqlite:///x.db``, ``postgresql://...`` and other SQLAlchemy URLs,
            or the path of a journal file.

    Returns:
        The storage.
    """
    if is_rdb_url(storage):
        return optuna.storages.RDBStorage(storage)
    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage))


def redact(text: str) -> str:
    """Replaces any password in a URL inside ``text`` with ``***``."""
    return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", text)
