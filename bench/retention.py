"""What finished job rows cost and what to do about them (bench.scale's retention part):
table and index sizes, the passage of jobs through a table before and after VACUUM, and
the proposed purge (bench/purge.sql)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench import common
from bench.common import Stopwatch
from bench.seed import seed_items

PURGE = (Path(__file__).parent / "purge.sql").read_text(encoding="utf-8")
JOB_TABLES = ("ssml_jobs", "audio_jobs", "analysis_feedback", "analysis_jobs")


def sizes(url: str) -> dict[str, dict[str, int]]:
    """Rows (counted), heap, index and total bytes, and dead rows (statistics) per table."""
    out: dict[str, dict[str, int]] = {}
    with common.connect(url) as conn:
        for name in JOB_TABLES:
            relation = sql.Identifier("public", name)
            count = conn.execute(sql.SQL("select count(*) from {}").format(relation)).fetchone()
            row = conn.execute(
                "select pg_relation_size(c.oid), pg_indexes_size(c.oid),"
                " pg_total_relation_size(c.oid), coalesce(s.n_dead_tup, 0)"
                " from pg_class as c left join pg_stat_user_tables as s on s.relid = c.oid"
                " where c.oid = %s::regclass",
                (f"public.{name}",),
            ).fetchone()
            assert count is not None and row is not None
            heap, indexes, total, dead = (int(v) for v in row)
            out[name] = {
                "rows": int(count[0]),
                "heap": heap,
                "indexes": indexes,
                "total": total,
                "dead": dead,
            }
    return out


def index_sizes(url: str, table: str) -> dict[str, int]:
    with common.connect(url) as conn:
        rows = conn.execute(
            "select indexrelid::regclass::text, pg_relation_size(indexrelid)"
            " from pg_index where indrelid = %s::regclass order by 1",
            (f"public.{table}",),
        ).fetchall()
    return {str(name): int(size) for name, size in rows}


def _flushed_sizes(conn: psycopg.Connection[Any], url: str) -> dict[str, int]:
    conn.execute("select pg_stat_force_next_flush()")  # this session's counters, now
    time.sleep(0.2)
    return sizes(url)["ssml_jobs"]


def _pass_through(conn: psycopg.Connection[Any]) -> None:
    """Every queued ssml job to processing, then to completed: the row versions a claim and
    a finish write (set-based, triggers on)."""
    with conn.transaction():
        conn.execute(
            "update public.ssml_jobs set status = 'processing', attempts = attempts + 1,"
            " lease_expires_at = now() + interval '5 minutes' where status = 'queued'"
        )
    with conn.transaction():
        conn.execute(
            "update public.ssml_jobs set status = 'completed', lease_expires_at = null"
            " where status = 'processing'"
        )


def passage(url: str, items: int) -> dict[str, Any]:
    """ssml_jobs' size as `items` jobs pass through, after VACUUM, and after as many again
    pass through once VACUUM has made the dead versions' space reusable."""
    out: dict[str, Any] = {}
    with common.connect(url) as conn:
        seed_items(conn, items)
        conn.execute("analyze")
        out["queued"] = _flushed_sizes(conn, url)
        _pass_through(conn)
        out["passed"] = _flushed_sizes(conn, url)
        conn.execute("vacuum public.ssml_jobs")
        out["vacuumed"] = _flushed_sizes(conn, url)
        seed_items(conn, items)
        _pass_through(conn)
        out["second batch passed"] = _flushed_sizes(conn, url)
        conn.execute("vacuum public.ssml_jobs")
        out["vacuumed again"] = _flushed_sizes(conn, url)
    return out


def purge(url: str, days: int, batch: int) -> dict[str, Any]:
    query = sql.SQL(PURGE.split("-- name: purge_finished_jobs", 1)[1]).format(
        table=sql.Identifier("public", "ssml_jobs")
    )
    before = sizes(url)["ssml_jobs"]
    deleted, batches, slowest = 0, 0, 0.0
    with common.connect(url) as conn, Stopwatch() as total:
        while True:
            with Stopwatch() as one:
                count = conn.execute(query, {"days": days, "batch": batch}).rowcount
            slowest = max(slowest, one.seconds)
            if count <= 0:
                break
            deleted, batches = deleted + count, batches + 1
        conn.execute("vacuum public.ssml_jobs")
        after = _flushed_sizes(conn, url)
    return {
        "deleted": deleted,
        "batches": batches,
        "seconds": round(total.seconds, 2),
        "slowest_batch_ms": round(slowest * 1000, 1),
        "before": before,
        "after_vacuum": after,
    }
