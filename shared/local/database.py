"""Which Postgres a local run uses, in order: `DATABASE_URL` if set, else the server on
127.0.0.1:5432 if it answers, else an embedded one from the `pgserver` wheel with its data
under the project-local folder (started here, stopped when the run ends).

On a local or embedded server cuecast works in its own database (`cuecast` by default), so
the server's `postgres` database is left alone; `DATABASE_URL` is used exactly as given.
"""

from __future__ import annotations

import atexit
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from shared.errors import ConfigurationError

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class DatabaseChoice:
    url: str
    source: str  # what was chosen, in words, for the start-up report
    stop: Callable[[], None] = field(default=lambda: None)


def answers(url: str, timeout_s: int = 2) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=timeout_s):
            return True
    except psycopg.Error:
        return False


def with_database(url: str, dbname: str) -> str:
    """`url` with its database replaced (works for host=/socket URLs too)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def ensure_database(server_url: str, dbname: str, *, fresh: bool = False) -> str:
    """Create `dbname` on the server if missing (dropped first when `fresh`); its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        name = sql.Identifier(dbname)
        if fresh:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(name))
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("create database {}").format(name))
    return with_database(server_url, dbname)


def start_embedded(data_dir: Path) -> tuple[str, Callable[[], None]]:
    """Start (or reuse) the embedded server whose data lives in `data_dir`."""
    try:
        import pgserver  # noqa: PLC0415 - an optional extra, loaded only when needed
    except ImportError as exc:
        raise ConfigurationError(
            "no Postgres answers and the embedded server is not installed: set DATABASE_URL "
            "or install the `embedded` extra (pip install 'cuecast[embedded]')"
        ) from exc
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            server.cleanup()

    atexit.register(stop)
    return str(server.get_uri()), stop


def choose_database(
    database_url: str | None,
    *,
    local_url: str = LOCAL_SERVER_URL,
    data_dir: Path,
    dbname: str = "cuecast",
    fresh: bool = False,
) -> DatabaseChoice:
    if database_url:
        return DatabaseChoice(database_url, "DATABASE_URL")
    if answers(local_url):
        url = ensure_database(local_url, dbname, fresh=fresh)
        return DatabaseChoice(url, f"local server {_where(local_url)}, database {dbname}")
    server_url, stop = start_embedded(data_dir)
    url = ensure_database(server_url, dbname, fresh=fresh)
    source = f"embedded pgserver (nothing answered at {_where(local_url)}), data in {data_dir}"
    return DatabaseChoice(url, source, stop)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
