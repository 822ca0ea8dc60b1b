"""Fixtures for the tests against real servers: PostgreSQL and a Dask scheduler (issue 6).

`.ci/servers.sh` starts both on 127.0.0.1 and writes their addresses to `.ci/servers.env`
(`.ci/run` does this on CI). These fixtures read the variables it exports and skip, with the
reason, when a server is not configured or does not answer within 2 seconds. No mocks: a
test that gets a fixture talks to a real server.

A test module loads them with `pytest_plugins = ["server_fixtures"]`. This is not a
conftest.py on purpose: tests/ has no __init__.py, so pytest imports every conftest.py as the
module `conftest`, and a second one here would replace tests/conftest.py for the test files
that do `from conftest import sweep` (they fail to import).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

HOW = "start them with `bash .ci/servers.sh && source .ci/servers.env` (.ci/run does this on CI)"
TIMEOUT = 2.0  # seconds: reachability checks must never stall the suite


def _skip(reason: str) -> None:
    pytest.skip(f"{reason}; {HOW}")


def _tcp_error(host: str, port: int) -> str | None:
    """Why a TCP connection to host:port fails within TIMEOUT, or None if it opens."""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT):
            return None
    except OSError as e:
        return f"{type(e).__name__}: {e}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of a reachable PostgreSQL database (postgresql+psycopg://...)."""
    url = os.environ.get("SWEEPER_TEST_POSTGRES_URL")
    if not url:
        _skip("no PostgreSQL server: SWEEPER_TEST_POSTGRES_URL is not set")
    try:
        import psycopg
        from sqlalchemy.engine import make_url
    except ImportError as e:
        _skip(f"the distributed extra is not installed ({e}): pip install -e '.[distributed]'")
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    try:
        # connect_timeout is libpq's; 2 s is its minimum. A closed port is refused at once.
        psycopg.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            dbname=parsed.database,
            connect_timeout=int(TIMEOUT),
        ).close()
    except psycopg.Error as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        _skip(f"PostgreSQL at {shown} is unreachable ({first_line})")
    return url


@pytest.fixture(scope="session")
def dask_scheduler() -> str:
    """Address (tcp://127.0.0.1:PORT) of a reachable Dask scheduler."""
    address = os.environ.get("SWEEPER_TEST_DASK_SCHEDULER")
    if not address:
        _skip("no Dask scheduler: SWEEPER_TEST_DASK_SCHEDULER is not set")
    try:
        import distributed  # noqa: F401
    except ImportError as e:
        _skip(f"the distributed extra is not installed ({e}): pip install -e '.[distributed]'")
    parts = urlsplit(address)
    if parts.scheme != "tcp" or not parts.hostname or not parts.port:
        _skip(f"SWEEPER_TEST_DASK_SCHEDULER={address!r} is not tcp://HOST:PORT")
    error = _tcp_error(parts.hostname, parts.port)
    if error:
        _skip(f"Dask scheduler at {address} is unreachable ({error})")
    return address
