"""One connection pool per instance, safe behind Supabase's transaction pooler.

`prepare_threshold=None` (no server-side prepared statements), autocommit connections with
explicit transactions, no LISTEN, no session state. The pool checks a connection before
lending it, so connections cut by a restart or `pg_terminate_backend` are replaced.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

Conn = psycopg.Connection[tuple[Any, ...]]


def connect_kwargs(statement_timeout_ms: int = 0) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}
    if statement_timeout_ms:
        # A startup parameter, not a SET: nothing lingers on a pooled server connection.
        kwargs["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return kwargs


def make_pool(conninfo: str, *, max_size: int = 4, statement_timeout_ms: int = 0) -> ConnectionPool:
    return ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs=connect_kwargs(statement_timeout_ms),
        check=ConnectionPool.check_connection,
        open=True,
        name="cuecast",
    )
