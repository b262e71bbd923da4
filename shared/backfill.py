"""`cuecast backfill`: queue the feedback items that were there before cuecast.

The migrations queue no provider work for historic items (they are `unrequested`,
migrations/20250924000004). This queues them when someone decides to pay for it: in batches
of a bounded size, each committed and then rung, the next taken only when the previous one
has settled (or its wait ran out), so at most one batch is in flight. An item without SSML gets
its SSML job (its audio follows), an item with SSML only its audio job. A dry run changes
nothing and counts the provider calls a run would make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import ConnectionPool

from shared import messages
from shared.adapters.ssml_builder import SsmlBuilder
from shared.domain import Stage, Voice
from shared.ports import Publisher
from shared.queries import raw


@dataclass(frozen=True)
class BackfillScope:
    job_id: int | None = None  # one analysis job's items only
    limit: int | None = None  # at most this many items in all


@dataclass
class BackfillPlan:
    """What a run would queue and the provider calls it would cost."""

    ssml_items: int = 0  # need SSML, then audio
    audio_items: int = 0  # have SSML, need audio
    ssml_calls: int = 0  # one SSML writer call per item (Gemini when CUECAST_SSML=gemini)
    tts_calls: int = 0  # one Text-to-Speech call per SSML segment

    @property
    def items(self) -> int:
        return self.ssml_items + self.audio_items


@dataclass
class BackfillReport:
    batches: list[dict[Stage, list[int]]] = field(default_factory=list)

    def queued(self, stage: Stage) -> int:
        return sum(len(batch.get(stage, [])) for batch in self.batches)


def plan(pool: ConnectionPool[Any], scope: BackfillScope, voice: Voice) -> BackfillPlan:
    """Count the calls. Segments of SSML still to be written are counted by the builder's own
    segmentation (exact with CUECAST_SSML=builder; Gemini-written SSML is split the same way
    when it is long)."""
    builder, counted = SsmlBuilder(), BackfillPlan()
    for needs_ssml, message, category, segments in _candidates(pool, scope):
        if needs_ssml:
            counted.ssml_items += 1
            counted.ssml_calls += 1
            script = builder.write(message, category=category, voice=voice)
            counted.tts_calls += len(script.segments)
        else:
            counted.audio_items += 1
            counted.tts_calls += int(segments)
    return counted


def _candidates(pool: ConnectionPool[Any], scope: BackfillScope) -> Iterator[tuple[Any, ...]]:
    params = {"job_id": scope.job_id, "limit": scope.limit}
    with (
        pool.connection() as conn,
        conn.transaction(),
        conn.cursor(name="backfill_plan") as cursor,  # streamed: the history may be millions
    ):
        cursor.execute(raw("backfill_candidates"), params)
        for row in cursor:
            yield row[1:]


def backfill(
    pool: ConnectionPool[Any],
    publisher: Publisher,
    topics: dict[Stage, str],
    scope: BackfillScope,
    *,
    batch_size: int,
    after_batch: Callable[[dict[Stage, list[int]]], None],
) -> BackfillReport:
    """Queue and ring batch after batch until none is left (or the limit is reached)."""
    report = BackfillReport()
    left = scope.limit
    while left is None or left > 0:
        size = batch_size if left is None else min(batch_size, left)
        batch = _take(pool, scope.job_id, size)
        if not batch:
            break
        for stage, ids in batch.items():
            if ids:  # a failed publish raises: the reconciler rings what was queued
                publisher.publish(topics[stage], [messages.encode(stage, i) for i in ids])
        report.batches.append(batch)
        left = None if left is None else left - sum(len(ids) for ids in batch.values())
        after_batch(batch)
    return report


def _take(pool: ConnectionPool[Any], job_id: int | None, size: int) -> dict[Stage, list[int]]:
    """One batch queued in one transaction: {stage: feedback ids to ring}."""
    with pool.connection() as conn, conn.transaction():
        rows = conn.execute(raw("backfill_take"), {"job_id": job_id, "limit": size}).fetchall()
        ssml = [int(fid) for fid, needs_ssml in rows if needs_ssml]
        audio = [int(fid) for fid, needs_ssml in rows if not needs_ssml]
        if ssml:
            conn.execute(raw("backfill_enqueue_ssml"), {"ids": ssml})
            conn.execute(raw("backfill_audio_waits"), {"ids": ssml})
        if audio:
            conn.execute(raw("backfill_enqueue_audio"), {"ids": audio})
    return {Stage.SSML: ssml, Stage.AUDIO: audio} if rows else {}


def unsettled(pool: ConnectionPool[Any], batch: dict[Stage, list[int]]) -> int:
    """How many of a batch's items are still queued, processing or waiting."""
    ids = [i for stage_ids in batch.values() for i in stage_ids]
    with pool.connection() as conn:
        row = conn.execute(raw("backfill_unsettled"), {"ids": ids}).fetchone()
    return int(row[0]) if row else 0
