"""Jobs chosen by the operator: a replay's selection (and its re-queue of failed jobs), and
the backfill's historic items, taken and queued a batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psycopg.rows import dict_row

from shared.domain import JobStatus, Stage
from shared.pool import Conn
from shared.queries import raw, stage_query


def replay_select(conn: Conn, stage: Stage, filters: dict[str, Any]) -> list[tuple[int, str]]:
    """(message id, status) of the jobs a replay names: by ids, statuses, age (each
    optional), at most `limit`."""
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(stage_query(stage, "replay_select"), filters).fetchall()
    return [(int(r["key"]), str(r["status"])) for r in rows]


def replay_requeue(
    conn: Conn, stage: Stage, keys: list[int], statuses: tuple[JobStatus, ...]
) -> list[int]:
    """The jobs among `keys` in one of `statuses` back to queued (attempts reset, a new
    generation)."""
    params = {"keys": keys, "statuses": [str(s) for s in statuses]}
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(stage_query(stage, "replay_requeue"), params).fetchall()
    return sorted(int(r["key"]) for r in rows)


def backfill_candidates(
    conn: Conn, job_id: int | None, limit: int | None
) -> Iterator[dict[str, Any]]:
    """Every item a backfill would queue, streamed (the history may be millions), inside
    the caller's transaction: id, needs_ssml, message, category, segments."""
    params = {"job_id": job_id, "limit": limit}
    with conn.cursor(name="backfill_plan", row_factory=dict_row) as cursor:
        cursor.execute(raw("backfill_candidates"), params)
        yield from cursor


def backfill_take(conn: Conn, job_id: int | None, size: int) -> dict[Stage, list[int]]:
    """The next batch, queued in the caller's transaction: {stage: feedback ids to ring}
    (empty when none is left). An item without SSML gets its SSML job and its audio waits
    (`pending`); an item with SSML gets its audio job."""
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(raw("backfill_take"), {"job_id": job_id, "limit": size}).fetchall()
    ssml = [int(r["id"]) for r in rows if r["needs_ssml"]]
    audio = [int(r["id"]) for r in rows if not r["needs_ssml"]]
    if ssml:
        conn.execute(raw("backfill_enqueue_ssml"), {"ids": ssml})
        conn.execute(raw("backfill_audio_waits"), {"ids": ssml})
    if audio:
        conn.execute(raw("backfill_enqueue_audio"), {"ids": audio})
    return {Stage.SSML: ssml, Stage.AUDIO: audio} if rows else {}


def unsettled(conn: Conn, ids: list[int]) -> int:
    """How many of these items are still queued, processing or waiting."""
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(raw("backfill_unsettled"), {"ids": ids}).fetchone()
    return int(row["count"]) if row else 0
