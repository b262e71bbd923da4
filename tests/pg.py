"""Where the tests' Postgres is: a configured URL, the local server, or the embedded one."""

from __future__ import annotations

import atexit
import os
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            pass
        with psycopg.connect(url, connect_timeout=3):
            return True
    except (OSError, psycopg.Error):
        return False


def _embedded_url() -> str:
    import pgserver

    data = Path(os.environ.get("CUECAST_PGDATA", Path(tempfile.gettempdir()) / "cuecast-pgtest"))
    server = pgserver.get_server(data, cleanup_mode="stop")
    atexit.register(server.cleanup)
    return str(server.get_uri())


def admin_url() -> str:
    """A superuser URL on a server the tests may create databases on."""
    configured = os.environ.get("CUECAST_TEST_ADMIN_URL")
    if configured:
        return configured
    if _answers(LOCAL_ADMIN_URL):
        return LOCAL_ADMIN_URL
    return _embedded_url()


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))
