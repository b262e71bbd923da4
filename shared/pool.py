"""One connection pool per instance, safe behind Supabase's transaction pooler.

`prepare_threshold=None` (no server-side prepared statements), autocommit connections with
explicit transactions, no LISTEN, no session state. The pool checks a connection that sat
idle before lending it, so connections cut by a restart, a pooler's idle timeout or
`pg_terminate_backend` are replaced.
"""

from __future__ import annotations

import time
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from psycopg_pool import ConnectionPool

Conn = psycopg.Connection[tuple[Any, ...]]


def connect_kwargs(statement_timeout_ms: int = 0) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}
    if statement_timeout_ms:
        # A startup parameter, not a SET: nothing lingers on a pooled server connection.
        kwargs["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return kwargs


class IdleCheck:
    """The pool's check before lending a connection: an empty query (a round trip), but only
    for a connection not lent in the last `after_seconds`. Statements are short and no
    connection is held across a provider call, so "last lent" is "last used" to within
    milliseconds. One used a moment ago is alive all but always; under load that is every
    connection, and the check would be a third of a stage's round trips. A connection cut
    within the window fails its statement: a transient error (Pub/Sub redelivers) and the
    pool replaces the connection.

    (Not the pool's `reset` callback for the timestamp: with one, psycopg_pool returns every
    connection through its worker threads instead of at once, and callers wait for it.)"""

    def __init__(self, after_seconds: float = 2.0) -> None:
        self.after_seconds = after_seconds
        self._lent: WeakKeyDictionary[Conn, float] = WeakKeyDictionary()

    def __call__(self, conn: Conn) -> None:
        now = time.monotonic()
        last = self._lent.get(conn)
        self._lent[conn] = now
        if last is None or now - last >= self.after_seconds:
            ConnectionPool.check_connection(conn)


def make_pool(conninfo: str, *, max_size: int = 4, statement_timeout_ms: int = 0) -> ConnectionPool:
    return ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs=connect_kwargs(statement_timeout_ms),
        check=IdleCheck(),
        open=True,
        name="cuecast",
    )
