"""What the tables say, for `cuecast status`, the demo and the backfill's wait: per stage,
jobs by status with the oldest queued age and the failures; one analysis job's whole story;
how far a job's items have come."""

from __future__ import annotations

from typing import Any

from psycopg.rows import class_row, dict_row

from shared.domain import JobStatus, Stage
from shared.pool import Conn
from shared.queries import raw, stage_query
from shared.status import Failure, ItemStory, JobProgress, JobStory, StageStatus


def stage_status(conn: Conn, stage: Stage, failures: int = 20) -> StageStatus:
    status = StageStatus(stage, {s.value: 0 for s in JobStatus})
    with conn.cursor(row_factory=dict_row) as cursor:
        for row in cursor.execute(stage_query(stage, "status_counts")):
            status.counts[row["status"]] = int(row["count"])
            if row["oldest_queued_s"] is not None:
                status.oldest_queued_s = float(row["oldest_queued_s"])
    with conn.cursor(row_factory=class_row(Failure)) as cursor:
        query = stage_query(stage, "status_failures")
        status.failures = cursor.execute(query, {"limit": failures}).fetchall()
    return status


def job_story(conn: Conn, job_id: int) -> JobStory | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(raw("story_job"), {"id": job_id}).fetchone()
        if row is None:
            return None
        items = [_item(r) for r in cursor.execute(raw("story_items"), {"id": job_id})]
    job = {k: v for k, v in row.items() if not k.startswith("video_")}
    video = {k.removeprefix("video_"): v for k, v in row.items() if k.startswith("video_")}
    return JobStory(job, video, items)


def _item(row: dict[str, Any]) -> ItemStory:
    jobs = {
        stage: None if row[f"{stage}_status_"] is None else {
            "status": row[f"{stage}_status_"],
            "attempts": row[f"{stage}_attempts"],
            "last_error": row[f"{stage}_last_error"],
            "created_at": row[f"{stage}_created_at"],
            "updated_at": row[f"{stage}_updated_at"],
        }
        for stage in ("ssml", "audio")
    }  # fmt: skip
    return ItemStory(
        feedback_id=int(row["feedback_id"]),
        item_index=int(row["item_index"]),
        timestamp_seconds=float(row["timestamp_seconds"]),
        category=row["category"],
        message=row["message"],
        ssml_status=row["ssml_status"],
        audio_status=row["audio_status"],
        ssml_job=jobs["ssml"],
        audio_job=jobs["audio"],
        ssml_segments=int(row["ssml_segments"]),
        audio_paths=list(row["audio_paths"]),
        audio_durations_ms=list(row["audio_durations_ms"]),
    )


def job_progress(conn: Conn, job_id: int) -> JobProgress | None:
    with conn.cursor(row_factory=class_row(JobProgress)) as cursor:
        return cursor.execute(raw("job_progress"), {"id": job_id}).fetchone()
