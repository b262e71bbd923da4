"""The plans of the queries against the job tables (bench.scale's plan part): EXPLAIN
(ANALYZE, BUFFERS) of each query, with the plans of every statement run inside its
functions and triggers (auto_explain, since EXPLAIN of a function call shows a Function
Scan only), the sequential scans in them, and the table of those scans per size."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from bench import common
from bench.common import Report, verdict
from bench.limit import POLICY
from shared.domain import Stage
from shared.queries import raw, stage_query
from shared.queue import PROBE_MARGIN_SECONDS

_LOGGED = re.compile(r"^duration: ([\d.]+) ms\s+plan:\s*\n(?P<plan>.*)$", re.DOTALL)
_SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")


@dataclass(frozen=True)
class Logged:
    """One plan auto_explain logged: its milliseconds and its text (the statement first)."""

    ms: float
    plan: str


class AutoExplain:
    """auto_explain on one session (LOAD and its settings need a superuser, as the bench's
    connections are), idle until `capture()`; its plans arrive as notices, those of nested
    statements (functions, triggers) included."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._into: list[Logged] | None = None
        for statement in (
            "load 'auto_explain'",
            "set auto_explain.log_min_duration = -1",
            "set auto_explain.log_nested_statements = on",
            "set auto_explain.log_analyze = on",
            "set auto_explain.log_buffers = on",
            "set auto_explain.log_triggers = on",
            "set auto_explain.log_format = text",
            "set auto_explain.log_level = notice",
        ):
            conn.execute(statement)
        conn.add_notice_handler(self._notice)

    @classmethod
    def attach(cls, conn: psycopg.Connection[Any]) -> AutoExplain | None:
        """auto_explain on `conn`, or None when it cannot be loaded or set."""
        try:
            return cls(conn)
        except psycopg.Error:
            return None

    def _notice(self, diagnostic: psycopg.errors.Diagnostic) -> None:
        match = _LOGGED.match(diagnostic.message_primary or "")
        if self._into is not None and match is not None:
            self._into.append(Logged(float(match[1]), match["plan"].rstrip()))

    @contextmanager
    def capture(self) -> Iterator[list[Logged]]:
        """Every statement that ends inside the block, in the order they end (a nested one
        before the statement that ran it; the outermost last)."""
        logged: list[Logged] = []
        self._into = logged
        self.conn.execute("set auto_explain.log_min_duration = 0")
        try:
            yield logged
        finally:
            self.conn.execute("set auto_explain.log_min_duration = -1")
            self._into = None


Setup = Callable[[psycopg.Connection[Any]], dict[str, Any]]


def explain(url: str, query: sql.SQL | sql.Composed, setup: Setup) -> tuple[str, int]:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement, rolled back; the second of two runs on one
    connection, so catalog caches and PL/pgSQL are warm as in a worker. `setup` runs first
    in the same transaction and returns the parameters. Then the plans of the statements
    run inside its functions and triggers (auto_explain, a third run, rolled back too); the
    same plan run again and again (a function in a filter, a trigger per row) is shown once,
    with its count. Returns the text and the number of statements planned."""
    plan = ""
    with common.connect(url) as conn:
        for _ in range(2):
            with conn.transaction(force_rollback=True):
                params = setup(conn)
                cur = psycopg.ClientCursor(conn)
                cur.execute(sql.SQL("explain (analyze, buffers) {}").format(query), params)
                plan = "\n".join(str(r[0]) for r in cur.fetchall())
        explainer = AutoExplain.attach(conn)
        if explainer is None:
            return plan + "\n\n(auto_explain could not be loaded: nothing inside shown)", 1
        with conn.transaction(force_rollback=True):
            params = setup(conn)
            with explainer.capture() as logged:
                psycopg.ClientCursor(conn).execute(query, params)
    return "\n\n".join([plan, *_nested(logged)]), len(logged)


def _nested(logged: list[Logged]) -> list[str]:
    """The plans of the statements run inside (all but the last, the statement itself), each
    shape once with its count."""
    shapes: dict[str, tuple[str, int]] = {}  # a plan with its numbers masked → first, count
    for entry in logged[:-1]:  # the last one is the statement itself
        shape = re.sub(r"\d+(?:\.\d+)?", "#", entry.plan)
        first, count = shapes.get(shape, (entry.plan, 0))
        shapes[shape] = (first, count + 1)
    return [
        f"-- inside, statement {n}{f' (×{count})' if count > 1 else ''} (auto_explain; its "
        f"times include auto_explain's own logging):\n{first}"
        for n, (first, count) in enumerate(shapes.values(), 1)
    ]


def seq_scans(plan: str) -> list[str]:
    """The tables a plan (with the plans inside it) reads with a sequential scan, once each."""
    return sorted(set(_SEQ_SCAN.findall(plan)))


def _claim(key: int) -> Setup:
    return lambda conn: {"key": key, **POLICY}


def _after_claim(stage: Stage, key: int, extra: dict[str, Any]) -> Setup:
    def setup(conn: psycopg.Connection[Any]) -> dict[str, Any]:
        row = conn.execute(raw(f"claim_{stage}"), {"key": key, **POLICY}).fetchone()
        if row is None:
            raise RuntimeError(f"nothing to claim for {stage} {key}")
        return {"id": row[0], "generation": row[2], "attempts": row[3], **extra}

    return setup


_SSML_SAVES = {"provider": "bench", "version": "bench-1", "indexes": [0], "ssml": ["<speak/>"]}
_AUDIO_SAVES = {
    "indexes": [0],
    "urls": ["u/1/1/1/0.mp3"],
    "durations": [1000],
    "format": "mp3",
    "provider": "bench",
    "version": "bench-1",
}


def plans(url: str, ssml_key: int, audio_key: int) -> dict[str, tuple[str, int]]:
    """The plans of the queries that run against the job tables on every message or
    reconcile pass. The finishes run after the stage's claim, in the same transaction."""

    def sweep(stage: Stage) -> Setup:
        params = {"max_attempts": 5, "grace_seconds": 60, "limit": 500,
                  "margin_seconds": PROBE_MARGIN_SECONDS, "stage": str(stage)}  # fmt: skip
        return lambda conn: params

    queries: dict[str, tuple[sql.SQL | sql.Composed, Setup]] = {
        "ssml claim_job": (stage_query(Stage.SSML, "claim_job"), _claim(ssml_key)),
        "audio claim_job": (stage_query(Stage.AUDIO, "claim_job"), _claim(audio_key)),
        "ssml claim_ssml": (sql.SQL(raw("claim_ssml")), _claim(ssml_key)),
        "ssml finish_ssml": (
            sql.SQL(raw("finish_ssml")),
            _after_claim(Stage.SSML, ssml_key, _SSML_SAVES),
        ),
        "audio claim_audio": (sql.SQL(raw("claim_audio")), _claim(audio_key)),
        "audio finish_audio": (
            sql.SQL(raw("finish_audio")),
            _after_claim(Stage.AUDIO, audio_key, _AUDIO_SAVES),
        ),
        "ssml reclaim_expired": (stage_query(Stage.SSML, "reclaim_expired"), sweep(Stage.SSML)),
        "ssml fail_exhausted": (stage_query(Stage.SSML, "fail_exhausted"), sweep(Stage.SSML)),
        "ssml ring_lost_doorbells": (
            stage_query(Stage.SSML, "ring_lost_doorbells"),
            sweep(Stage.SSML),
        ),
        "audio ring_lost_doorbells": (
            stage_query(Stage.AUDIO, "ring_lost_doorbells"),
            sweep(Stage.AUDIO),
        ),
    }
    return {name: explain(url, query, setup) for name, (query, setup) in queries.items()}


def record(report: Report, explained: dict[int, dict[str, tuple[str, int]]]) -> None:
    """The plans into the report's data: those at the largest size (`plans`), the number of
    statements planned in each, the sequential scans at every size, the other sizes' plans."""
    largest = max(explained)
    report.data["plans"] = {k: text for k, (text, _) in explained[largest].items()}
    report.data["plan_statements"] = {k: n for k, (_, n) in explained[largest].items()}
    report.data["seq_scans"] = {
        str(size): {k: seq_scans(text) for k, (text, _) in found.items()}
        for size, found in explained.items()
    }
    report.data["plans_by_size"] = {
        str(size): {k: text for k, (text, _) in found.items()}
        for size, found in explained.items()
        if size != largest
    }


# Tables whose size does not follow the items': a sequential scan of them is the right plan.
# doorbell_probes holds the last hour of the reconciler's probes (cuecast.send_probe deletes
# older ones): about 60 rows per stage.
BOUNDED = {"doorbell_probes"}


def scans_table(report: Report, sizes: list[int]) -> None:
    """The table of the sequential scans in each query's plans, per size (from `record`)."""
    largest = max(sizes)
    scans = report.table(
        "Sequential scans with N finished jobs (EXPLAIN ANALYZE of each query, and "
        "auto_explain of every statement run inside its functions and triggers)",
        [
            "query",
            f"statements planned at {largest:,}",
            *[f"seq scans at {size:,}" for size in sizes],
            f"target: none at {largest:,} (but on doorbell_probes)",
        ],
    )
    found = report.data["seq_scans"]
    for name, count in report.data["plan_statements"].items():
        scans.add(
            f"`{name}`",
            count,
            *[", ".join(found[str(size)][name]) or "–" for size in sizes],
            verdict(not set(found[str(largest)][name]) - BOUNDED),
        )
    scans.notes.append(
        "`claim_job` is cuecast.claim_<table> (the claim of bench.limit's pair and of the "
        "analysis stage); `claim_ssml` … `finish_audio` are the two statements each of the "
        "ssml and audio stages runs; the reconcile queries are the reconciler's. A cell "
        "names the tables read by a sequential scan; doorbell_probes, the last hour of the "
        "reconciler's probes (about 60 rows per stage), is read whole at every size, which is "
        "the right plan for it. The plans at the largest size are printed at the end; all are "
        "in the JSON (`plans`, `plans_by_size`)."
    )
