"""What the tables say: per stage, jobs by status, the oldest queued age and the failures;
and the whole story of one analysis job. `cuecast status` and `cuecast demo` print these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from shared.domain import JobStatus, Stage
from shared.queries import TABLES, raw

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True)
class Failure:
    id: int  # the message id: analysis job id, or feedback id
    attempts: int
    error: str | None
    at: datetime


@dataclass
class StageStatus:
    stage: Stage
    counts: dict[str, int] = field(default_factory=dict)
    oldest_queued_s: float | None = None
    failures: list[Failure] = field(default_factory=list)


def stage_status(conn: Conn, stage: Stage, failures: int = 20) -> StageStatus:
    table = TABLES[stage]
    status = StageStatus(stage, {s.value: 0 for s in JobStatus})
    for name, count, oldest in conn.execute(table.query("status_counts")):
        status.counts[name] = int(count)
        if oldest is not None:
            status.oldest_queued_s = float(oldest)
    rows = conn.execute(table.query("status_failures"), {"limit": failures}).fetchall()
    status.failures = [Failure(int(k), int(n), e, at) for k, n, e, at in rows]
    return status


@dataclass(frozen=True)
class ItemStory:
    feedback_id: int
    item_index: int
    timestamp_seconds: float
    category: str
    message: str | None
    ssml_status: str
    audio_status: str
    ssml_job: dict[str, Any] | None
    audio_job: dict[str, Any] | None
    ssml_segments: int
    audio_paths: list[str]
    audio_durations_ms: list[int | None]

    @property
    def audio_seconds(self) -> float:
        return sum(d or 0 for d in self.audio_durations_ms) / 1000


@dataclass(frozen=True)
class JobStory:
    job: dict[str, Any]
    video: dict[str, Any]
    items: list[ItemStory]


def _job_columns(status: Any, attempts: Any, error: Any, created: Any, updated: Any) -> Any:
    if status is None:
        return None
    return {
        "status": status,
        "attempts": attempts,
        "last_error": error,
        "created_at": created,
        "updated_at": updated,
    }


def job_story(conn: Conn, job_id: int) -> JobStory | None:
    row = conn.execute(raw("story_job"), {"id": job_id}).fetchone()
    if row is None:
        return None
    job_keys = "id status progress_percentage attempts generation error_message voice"
    job_keys += " created_at processing_started_at processing_completed_at updated_at"
    video_keys = "id user_id filename storage_path format file_size upload_status"
    job = dict(zip(job_keys.split(), row[:11], strict=True))
    video = dict(zip(video_keys.split(), row[11:], strict=True))
    items = [
        ItemStory(
            feedback_id=int(r[0]),
            item_index=int(r[1]),
            timestamp_seconds=float(r[2]),
            category=r[3],
            message=r[4],
            ssml_status=r[5],
            audio_status=r[6],
            ssml_job=_job_columns(*r[7:12]),
            audio_job=_job_columns(*r[12:17]),
            ssml_segments=int(r[17]),
            audio_paths=list(r[18]),
            audio_durations_ms=list(r[19]),
        )
        for r in conn.execute(raw("story_items"), {"id": job_id})
    ]
    return JobStory(job, video, items)


def to_json(value: Any) -> Any:
    """Dataclasses, datetimes and decimals as plain JSON values."""
    if hasattr(value, "__dataclass_fields__"):
        return to_json(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
