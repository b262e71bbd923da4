"""What the tables say, as values: per stage, jobs by status, the oldest queued age and the
failures; the whole story of one analysis job; how far a job's items have come. The database
gateway reads them (shared/db/reads.py); `cuecast status` and `cuecast demo` print them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.domain import JobStatus, Stage


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


@dataclass(frozen=True)
class JobProgress:
    """One analysis job and how far its items have come (a poll of the tables)."""

    status: str
    percent: int
    items: int
    ssml_done: int
    ssml_failed: int
    audio_done: int
    audio_failed: int

    @property
    def ssml_settled(self) -> int:
        return self.ssml_done + self.ssml_failed

    @property
    def audio_settled(self) -> int:
        return self.audio_done + self.audio_failed

    def finished(self) -> bool:
        return self.status == JobStatus.FAILED or (
            self.status == JobStatus.COMPLETED and self.audio_settled == self.items
        )


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
