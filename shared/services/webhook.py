"""The webhook's work: resolve a start request (Supabase's database-webhook payload for
`analysis_jobs`, or a manual start by recording id or storage path) to its analysis job,
created or re-queued idempotently, and ring its doorbell; ring the ssml doorbell of an item
whose edit re-queued it (the `ssml_jobs` payload of migration 20251203000001)."""

from __future__ import annotations

from shared import logs, messages
from shared.db import Database
from shared.domain import Stage
from shared.ports import Publisher


def start_analysis(
    db: Database,
    publisher: Publisher,
    topic: str,
    *,
    video_recording_id: int | None = None,
    video_path: str | None = None,
    analysis_job_id: int | None = None,
) -> int:
    """The job id, after its doorbell is published; NotFound for unknown recordings/jobs."""
    job_id = db.start_analysis(
        video_recording_id=video_recording_id,
        video_path=video_path,
        analysis_job_id=analysis_job_id,
    )
    publisher.publish(topic, [messages.encode(Stage.ANALYSIS, job_id)], logs.trace_attributes())
    return job_id


def ring_ssml(publisher: Publisher, topic: str, *, feedback_id: int) -> None:
    """Publish the item's ssml doorbell. The stage decides what it is worth: a job that is
    not queued (or not due) is acknowledged there, so a stale or repeated call costs one
    message."""
    publisher.publish(topic, [messages.encode(Stage.SSML, feedback_id)], logs.trace_attributes())
