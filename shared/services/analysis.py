"""start-analysis: claim the job, stream the video, analyse it, store the feedback items,
complete, then ring the ssml doorbell once per queued item."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from shared import queue
from shared.database import Conn
from shared.domain import Analysis, FeedbackItem, Stage, Voice
from shared.errors import PermanentError
from shared.paths import feedback_prefix, require_owner
from shared.ports import PROCESSED_BUCKET, RAW_BUCKET, Analyzer, Publisher, Storage
from shared.queries import raw
from shared.queue import Claim, QueuePolicy
from shared.services.runner import (
    SUPERSEDED,
    Outcome,
    StageSteps,
    Superseded,
    execute,
    publish_after_commit,
)

log = logging.getLogger("cuecast.start_analysis")

CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime"}


@dataclass(frozen=True)
class VideoJob:
    job_id: int
    user_id: str
    storage_path: str
    format: str
    file_size: int | None
    voice: Voice


@dataclass(frozen=True)
class Saved:
    queued_feedback_ids: list[int]
    removed_feedback_ids: list[int]


def valid_items(analysis: Analysis) -> list[FeedbackItem]:
    """Items that can be stored (without the characters Postgres refuses); the rest are
    logged and dropped. None valid is permanent."""
    kept = []
    for position, proposed in enumerate(analysis.items):
        item = proposed.storable()
        problems = item.problems(analysis.duration_seconds)
        if problems:
            log.warning("feedback item dropped", extra={"item": position, "problems": problems})
        else:
            kept.append(item)
    if not kept:
        raise PermanentError(f"the analyzer produced no valid feedback ({len(analysis.items)})")
    return kept


class AnalysisStage:
    stage = Stage.ANALYSIS
    next_stage = Stage.SSML

    def __init__(
        self,
        *,
        pool: ConnectionPool[Any],
        storage: Storage,
        analyzer: Analyzer,
        publisher: Publisher,
        policy: QueuePolicy,
        voice: Voice,
        topic: str,
    ) -> None:
        self.pool, self.storage, self.analyzer = pool, storage, analyzer
        self.publisher, self.policy, self.voice, self.topic = publisher, policy, voice, topic

    def run(self, analysis_job_id: int) -> Outcome:
        steps = StageSteps(
            claim=self._claim, load=self._load, work=self._work, finish=self._finish,
            after=self._after,
        )  # fmt: skip
        return execute(self.pool, self.stage, analysis_job_id, self.policy, steps)

    def _claim(self, conn: Conn, job_id: int) -> tuple[Claim, tuple[Any, ...]] | None:
        """Claim, and fix the voice snapshot on the first claim, in one transaction."""
        with conn.transaction():
            claim = queue.claim_job(conn, self.stage, job_id, self.policy)
            if claim is None:
                return None
            row = conn.execute(
                raw("load_analysis"), {"id": claim.job_id, "voice": Jsonb(self.voice.as_dict())}
            ).fetchone()
        return claim, row or ()

    def _load(self, claim: Claim, row: tuple[Any, ...]) -> VideoJob:
        if not row:
            raise PermanentError(f"analysis job {claim.job_id} has no video")
        job_id, user_id, path, fmt, size, voice = row
        return VideoJob(job_id, user_id, path, fmt, size, Voice.from_dict(voice))

    def _work(self, claim: Claim, job: VideoJob) -> tuple[Analysis, list[FeedbackItem]]:
        path = require_owner(job.storage_path, job.user_id)
        content_type = CONTENT_TYPES.get(job.format, "video/mp4")
        with self.storage.open_read(RAW_BUCKET, path) as video:
            size = video.seek(0, 2)
            video.seek(0)
            analysis = self.analyzer.analyze(
                video, size=size, content_type=content_type, voice=job.voice
            )
        return analysis, valid_items(analysis)

    def _finish(
        self,
        conn: Conn,
        claim: Claim,
        job: VideoJob,
        result: tuple[Analysis, list[FeedbackItem]],
    ) -> Saved | Superseded:
        with conn.transaction():
            if not queue.finish_job(conn, claim):
                return SUPERSEDED
            return self._save(conn, job, result)

    def _save(
        self, conn: Conn, job: VideoJob, result: tuple[Analysis, list[FeedbackItem]]
    ) -> Saved:
        analysis, items = result
        rows = conn.execute(
            raw("upsert_feedback"),
            {
                "job_id": job.job_id,
                "indexes": list(range(len(items))),
                "timestamps": [i.timestamp_seconds for i in items],
                "categories": [i.category.strip() for i in items],
                "messages": [i.message.strip() for i in items],
                "confidences": [i.confidence for i in items],
                "impacts": [i.impact for i in items],
            },
        ).fetchall()
        removed = conn.execute(
            raw("delete_feedback_from"), {"job_id": job.job_id, "count": len(items)}
        ).fetchall()
        summary = {
            "provider": analysis.provider,
            "model": analysis.model,
            "duration_seconds": analysis.duration_seconds,
            "items": len(items),
            "dropped": len(analysis.items) - len(items),
        }
        conn.execute(raw("record_analysis_results"), {"id": job.job_id, "results": Jsonb(summary)})
        return Saved(
            queued_feedback_ids=[int(fid) for fid, status in rows if status == "queued"],
            removed_feedback_ids=[int(fid) for (fid,) in removed],
        )

    def _after(self, claim: Claim, job: VideoJob, result: object, saved: Saved) -> None:
        for feedback_id in saved.removed_feedback_ids:
            prefix = feedback_prefix(job.user_id, job.job_id, feedback_id)
            self.storage.delete(PROCESSED_BUCKET, self.storage.list(PROCESSED_BUCKET, prefix))
        publish_after_commit(
            self.publisher,
            self.topic,
            self.next_stage,
            saved.queued_feedback_ids,
        )
