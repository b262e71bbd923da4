"""`cuecast backfill`: queue the feedback items that were there before cuecast.

The migrations queue no provider work for historic items (they are `unrequested`,
migrations/20250924000004). This queues them when someone decides to pay for it: in batches
of a bounded size, each committed and then rung, the next taken only when the previous one
has settled (or its wait ran out), so at most one batch is in flight. An item without SSML gets
its SSML job (its audio follows), an item with SSML only its audio job. A dry run changes
nothing and counts the provider calls a run would make.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shared import messages
from shared.adapters.ssml_builder import SsmlBuilder
from shared.db import Database
from shared.domain import Stage, Voice
from shared.ports import Publisher


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


def plan(db: Database, scope: BackfillScope, voice: Voice) -> BackfillPlan:
    """Count the calls. Segments of SSML still to be written are counted by the builder's own
    segmentation (exact with CUECAST_SSML=builder; Gemini-written SSML is split the same way
    when it is long)."""
    builder, counted = SsmlBuilder(), BackfillPlan()
    for item in db.backfill_candidates(scope.job_id, scope.limit):
        if item["needs_ssml"]:
            counted.ssml_items += 1
            counted.ssml_calls += 1
            script = builder.write(item["message"], category=item["category"], voice=voice)
            counted.tts_calls += len(script.segments)
        else:
            counted.audio_items += 1
            counted.tts_calls += int(item["segments"])
    return counted


def backfill(
    db: Database,
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
        batch = db.backfill_take(scope.job_id, size)
        if not batch:
            break
        for stage, ids in batch.items():
            if ids:  # a failed publish raises: the reconciler rings what was queued
                publisher.publish(topics[stage], [messages.encode(stage, i) for i in ids])
        report.batches.append(batch)
        left = None if left is None else left - sum(len(ids) for ids in batch.values())
        after_batch(batch)
    return report
