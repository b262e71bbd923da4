"""Proposed changes to shared/, prototyped from the outside so their effect can be measured
before anyone edits shared/ (bench/README.md gives the numbers and the exact change).

- `pipelined`: every `pool.connection()` block runs in psycopg pipeline mode, so BEGIN, the
  statements whose results are not read at once, and COMMIT share network round trips.
  The same as adding `conn.pipeline()` to the three `with pool.connection() as conn,
  conn.transaction():` blocks of shared/services/runner.py.
- `fused`: claim-and-load and finish-and-save as one autocommit statement each (bench/fused.py,
  bench/fused.sql) instead of two transactions of 2-4 statements each.
- `unchecked`: the pool without `check=ConnectionPool.check_connection`, i.e. no empty query
  on every checkout (shared/database.py); a dead connection then fails the statement, which
  is a transient error (Pub/Sub redelivers) and the pool replaces the connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from psycopg_pool import ConnectionPool

from shared.database import Conn, connect_kwargs


class PipelinedPool:
    """A ConnectionPool whose connections are lent in pipeline mode."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Conn]:
        with self._pool.connection(timeout) as conn, conn.pipeline():
            yield conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


def make_pool(url: str, size: int, *, checked: bool = True, pipelined: bool = False) -> Any:
    """shared.database.make_pool's pool, with the proposed changes toggled."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs=connect_kwargs(30_000),
        check=ConnectionPool.check_connection if checked else None,
        open=True,
        name="cuecast-variant",
    )
    return PipelinedPool(pool) if pipelined else pool


@dataclass(frozen=True)
class Variant:
    checked: bool = True
    pipelined: bool = False
    fused: bool = False

    def pool(self, url: str, size: int) -> Any:
        return make_pool(url, size, checked=self.checked, pipelined=self.pipelined)


VARIANTS: dict[str, Variant] = {
    "unchecked": Variant(checked=False),
    "pipelined": Variant(pipelined=True),
    "pipelined+unchecked": Variant(pipelined=True, checked=False),
    "fused": Variant(fused=True),
    "fused+unchecked": Variant(fused=True, checked=False),
}
