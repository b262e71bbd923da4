"""Counting at the driver: libpq's protocol trace (PQtrace) of every pooled connection,
parsed into round trips, statements and transactions.

- round trip: one `ReadyForQuery` from the server (psycopg waits for each; no pipelining);
- statement: a `CommandComplete` other than BEGIN/COMMIT/ROLLBACK;
- transaction: a BEGIN, or a statement sent while the session was idle (autocommit);
- check: an empty query: the pool's check before lending a connection (cuecast's
  `shared.pool.IdleCheck` runs psycopg_pool's `check_connection` only for a
  connection not lent in the last 2 s; each check that does run is counted);
- wait: from the first message of a round trip to its ReadyForQuery (timestamps on): the
  time the client waited for the network and the server, by what the round trip ran.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import psycopg

_MESSAGE = re.compile(
    r"^(?:(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\t)?"
    r"(?P<side>[FB])\t\d+\t(?P<kind>\w+)\t?(?P<rest>.*)$"
)
_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


@dataclass
class Counts:
    roundtrips: int = 0
    statements: int = 0
    transactions: int = 0
    begins: int = 0
    commits: int = 0
    checks: int = 0
    errors: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # statement heads
    # seconds waited, by what the round trip ran
    waits: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, other: Counts) -> None:
        for name in (
            "roundtrips",
            "statements",
            "transactions",
            "begins",
            "commits",
            "checks",
            "errors",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.kinds.update(other.kinds)
        for key, seconds in other.waits.items():
            self.waits[key] += seconds


def _head(text: str, width: int = 48) -> str:
    words = " ".join(text.strip().strip('"').split())
    return words if len(words) <= width else words[: width - 1] + "…"


_QUERY = re.compile(r'^\s*"(?P<query>.*)"\s*$', re.DOTALL)
_PARSE = re.compile(r'^\s*"(?P<name>[^"]*)" "(?P<query>.*)" \d+(?: \w+)*\s*$', re.DOTALL)
_BIND = re.compile(r'^\s*"(?P<portal>[^"]*)" "(?P<name>[^"]*)"')


def _field(pattern: re.Pattern[str], rest: str, group: str) -> str:
    """A field of a traced message (query texts are not escaped: the patterns anchor on
    what follows them)."""
    match = pattern.match(rest)
    return match[group] if match else "?"


Message = tuple[float | None, str, str, str]  # (timestamp, side, kind, rest)


def _messages(text: str) -> list[Message]:
    """Every traced message; multi-line query texts joined."""
    messages: list[Message] = []
    for line in text.splitlines():
        match = _MESSAGE.match(line)
        if match:
            ts = match["ts"]
            when = datetime.fromisoformat(ts).timestamp() if ts else None
            messages.append((when, match["side"], match["kind"], match["rest"]))
        elif messages:
            when, side, kind, rest = messages[-1]
            messages[-1] = (when, side, kind, rest + "\n" + line)
    return messages


class _Parser:
    """Follows one connection's trace: which statement each Bind runs, and whether the
    session was idle (autocommit) when it was sent."""

    def __init__(self) -> None:
        self.counts = Counts()
        self.idle = True
        self.named: dict[str, str] = {}
        self.unnamed = ""
        self.round_start: float | None = None
        self.round_label = ""

    def at(self, when: float | None, side: str) -> None:
        """Note the time of a message: the first frontend one opens a round trip."""
        if when is not None and side == "F" and self.round_start is None:
            self.round_start = when

    def frontend(self, kind: str, rest: str) -> None:
        if kind == "Query":
            self.statement(_field(_QUERY, rest, "query"))
        elif kind == "Parse":
            name, query = _field(_PARSE, rest, "name"), _field(_PARSE, rest, "query")
            if name:
                self.named[name] = query
            else:
                self.unnamed = query
        elif kind == "Bind":
            name = _field(_BIND, rest, "name")
            self.statement(self.named.get(name, "?") if name else self.unnamed)

    def backend(self, kind: str, rest: str) -> None:
        if kind == "CommandComplete":
            tag = rest.strip().strip('"').split(" ")[0]
            self.counts.statements += tag not in _CONTROL
        elif kind == "ErrorResponse":
            self.counts.errors += 1
        elif kind == "ReadyForQuery":
            self.counts.roundtrips += 1
            self.idle = rest.strip() == "I"

    def ready(self, when: float | None) -> None:
        if when is not None and self.round_start is not None:
            self.counts.waits[self.round_label or "?"] += when - self.round_start
        self.round_start = None
        self.round_label = ""

    def statement(self, sql: str) -> None:
        command = sql.strip().upper()
        if not self.round_label:
            self.round_label = _label(sql)
        if command == "":
            self.counts.checks += 1
        elif command == "BEGIN":
            self.counts.begins += 1
            self.counts.transactions += 1
        elif command in _CONTROL:
            self.counts.commits += command == "COMMIT"
        else:
            self.counts.transactions += self.idle
            self.counts.kinds[_head(sql)] += 1


def parse(text: str) -> Counts:
    """Counts from one connection's trace."""
    parser = _Parser()
    for when, side, kind, rest in _messages(text):
        parser.at(when, side)
        if side == "F":
            parser.frontend(kind, rest)
        else:
            parser.backend(kind, rest)
            if kind == "ReadyForQuery":
                parser.ready(when)
    return parser.counts


def _label(sql: str) -> str:
    command = sql.strip().upper()
    if command == "":
        return "check"
    if command in _CONTROL or command == "BEGIN":
        return command
    return _head(sql)


class Tracer:
    """Traces every connection it configures (a pool's `configure=` callback) to a file."""

    def __init__(self, *, timestamps: bool = False) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="cuecast-bench-trace-"))
        self._traced: list[tuple[Any, IO[str]]] = []
        self._flags = 0 if timestamps else psycopg.pq.Trace.SUPPRESS_TIMESTAMPS

    def configure(self, conn: psycopg.Connection[Any]) -> None:
        self._start(conn)

    async def configure_async(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._start(conn)

    def _start(self, conn: Any) -> None:
        file = (self.directory / f"conn-{len(self._traced)}.trace").open("w")
        conn.pgconn.trace(file.fileno())
        conn.pgconn.set_trace_flags(self._flags)
        self._traced.append((conn, file))

    def reset(self) -> None:
        """Forget what was traced so far (flush, then empty every file)."""
        for conn, file in self._traced:
            if not conn.closed:
                conn.pgconn.untrace()
            file.seek(0)
            file.truncate()
            if not conn.closed:
                conn.pgconn.trace(file.fileno())
                conn.pgconn.set_trace_flags(self._flags)

    def collect(self) -> Counts:
        """Counts over every traced connection so far (tracing goes on)."""
        total = Counts()
        for conn, file in self._traced:
            if not conn.closed:
                conn.pgconn.untrace()  # flushes libpq's buffer
            file.flush()
            total.add(parse(Path(file.name).read_text()))
            if not conn.closed:
                conn.pgconn.trace(file.fileno())
                conn.pgconn.set_trace_flags(self._flags)
        return total

    def close(self) -> None:
        for conn, file in self._traced:
            if not conn.closed:
                conn.pgconn.untrace()
            file.close()
        for path in self.directory.glob("*.trace"):
            path.unlink()
        self.directory.rmdir()
