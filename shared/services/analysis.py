"""start-analysis: claim the job, stream the video, analyse it, store the feedback items,
complete, then ring the ssml doorbell once per queued item."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.domain import Analysis, FeedbackItem, Stage, Voice
from shared.errors import PermanentError, UndecodableVideo
from shared.paths import feedback_prefix, require_owner
from shared.ports import PROCESSED_BUCKET, RAW_BUCKET, Analyzer, Publisher, Storage
from shared.queue import AnalysisContext, AnalysisWrites, Claim, Claimed, Saved
from shared.services.runner import publish_after_commit

log = logging.getLogger("cuecast.start_analysis")

CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime"}


@dataclass(frozen=True)
class VideoJob:
    job_id: int
    user_id: str
    storage_path: str
    format: str
    voice: Voice


Result = tuple[Analysis, list[FeedbackItem]]


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

    def __init__(
        self,
        *,
        storage: Storage,
        analyzer: Analyzer,
        publisher: Publisher,
        default_voice: Voice,
        topic: str,
    ) -> None:
        self.storage, self.analyzer, self.default_voice = storage, analyzer, default_voice
        self.publisher, self.topic = publisher, topic

    def load(self, claimed: Claimed) -> VideoJob:
        context: AnalysisContext = claimed.context
        job_id = claimed.claim.key
        if context.storage_path is None or context.user_id is None:
            raise PermanentError(f"analysis job {job_id} has no video")
        voice = Voice.from_dict(context.voice) if context.voice else self.default_voice
        return VideoJob(job_id, context.user_id, context.storage_path, context.format or "", voice)

    def work(self, claim: Claim, job: VideoJob) -> Result:
        path = require_owner(job.storage_path, job.user_id)
        content_type = CONTENT_TYPES.get(job.format, "video/mp4")
        with self.storage.open_read(RAW_BUCKET, path) as video:
            size = video.seek(0, 2)
            video.seek(0)
            if size == 0:  # before any provider is paid, or PyAV says EINVAL
                raise UndecodableVideo(f"{RAW_BUCKET}/{path}: the file is empty")
            try:
                analysis = self.analyzer.analyze(
                    video, size=size, content_type=content_type, voice=job.voice
                )
            except UndecodableVideo as exc:
                raise UndecodableVideo(f"{RAW_BUCKET}/{path}: {exc}") from exc
        return analysis, valid_items(analysis)

    def writes(self, claim: Claim, job: VideoJob, result: Result) -> AnalysisWrites:
        analysis, items = result
        summary: dict[str, Any] = {
            "provider": analysis.provider,
            "model": analysis.model,
            "duration_seconds": analysis.duration_seconds,
            "items": len(items),
            "dropped": len(analysis.items) - len(items),
        }
        return AnalysisWrites(items, summary)

    def discard(self, claim: Claim, job: VideoJob) -> None:
        """Nothing to remove: this stage writes only rows, and only in its finish."""

    def after(self, claim: Claim, job: VideoJob, result: Result, saved: Saved) -> None:
        for feedback_id in saved.removed:
            prefix = feedback_prefix(job.user_id, job.job_id, feedback_id)
            self.storage.delete(PROCESSED_BUCKET, self.storage.list(PROCESSED_BUCKET, prefix))
        publish_after_commit(self.publisher, self.topic, Stage.SSML, saved.queued)
