"""Which Postgres a local run uses, in order: `DATABASE_URL` if set, else the server on
127.0.0.1:5432 if it answers, else an embedded one from the `pgserver` wheel with its data
under the project-local folder (started here, stopped when the run ends).

On a local or embedded server cuecast works in a database of its own checkout
(`cuecast_<folder>_<hash>`, from the absolute path of CUECAST_HOME), so the server's `postgres`
database and another checkout's are left alone (`--fresh` drops only this one);
`DATABASE_URL` is used exactly as given.
"""

from __future__ import annotations

import atexit
import hashlib
import re
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


REACH_TIMEOUT_S = 5


def reach(url: str, timeout_s: int = REACH_TIMEOUT_S) -> None:
    """Connect once, or a ConfigurationError naming the host, the database and the server's
    reason in one line (a wrong URL fails here within `timeout_s`, not in a pool's retries)."""
    try:
        with psycopg.connect(url, connect_timeout=timeout_s):
            return
    except psycopg.Error as exc:
        raise ConfigurationError(
            f"cannot reach {describe(url)}: {server_reason(exc)}; check DATABASE_URL"
        ) from None


def describe(url: str) -> str:
    """ "the database D at HOST:PORT" for `url` (a URL or a key=value string)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database (DATABASE_URL is not a valid connection string)"
    dbname = info.get("dbname") or info.get("user") or "?"  # libpq's default is the user
    return f"the database {dbname} at {info.get('host') or 'localhost'}:{info.get('port') or 5432}"


def server_reason(exc: psycopg.Error) -> str:
    """The useful part of a connection error: the server's last line, without libpq's
    "connection to server at … failed:" preamble and the FATAL tag."""
    text = str(exc).rsplit(" failed: ", 1)[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    for tag in ("FATAL:", "ERROR:"):
        reason = reason.removeprefix(tag).strip()
    return reason


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


def checkout_database(home: Path) -> str:
    """This checkout's database name on a shared server: readable, and unique per folder."""
    where = home.resolve()
    digest = hashlib.sha256(str(where).encode()).hexdigest()[:8]
    folder = where.parent.name if where.name.startswith(".") else where.name
    slug = re.sub(r"[^a-z0-9]+", "_", folder.lower()).strip("_")[:24] or "home"
    return f"cuecast_{slug}_{digest}"


def choose_database(
    database_url: str | None,
    *,
    local_url: str = LOCAL_SERVER_URL,
    data_dir: Path,
    dbname: str,
    fresh: bool = False,
) -> DatabaseChoice:
    if database_url:
        reach(database_url)
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
