"""The domain: statuses, stages and the values that flow between stages. No I/O here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

# Google Cloud Text-to-Speech rejects input over 5,000 bytes; every SSML segment fits this.
TTS_INPUT_LIMIT_BYTES = 5000

# What a Postgres text value cannot hold: NUL, and (not being UTF-8) lone surrogates.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` without the characters Postgres refuses (a model's output may carry them)."""
    return _UNSTORABLE.sub("", text)


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class ItemStatus(StrEnum):
    """`analysis_feedback.ssml_status` / `audio_status`.

    `pending`: nothing has been asked yet (audio waits for its SSML). `skipped`: the item has a
    blank message, so there is nothing to say; it is final, never "in progress".
    `unrequested`: the item was there before cuecast and has none; nothing is made for it
    unless asked (`cuecast backfill`, or an edit of its message).
    """

    PENDING = "pending"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNREQUESTED = "unrequested"


class Stage(StrEnum):
    """A queue stage; its value names the stage in messages, logs and the CLI. What else a
    stage is (its table, topic, message key, …) is declared in shared/stages.py."""

    ANALYSIS = "start-analysis"
    SSML = "ssml"
    AUDIO = "audio"


@dataclass(frozen=True)
class Voice:
    """The voice snapshot fixed on an analysis job when analysis starts."""

    name: str
    language: str
    style: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "language": self.language, "style": self.style}

    @classmethod
    def from_dict(cls, raw: dict[str, str]) -> Voice:
        return cls(name=str(raw["name"]), language=str(raw["language"]), style=str(raw["style"]))


@dataclass(frozen=True)
class FeedbackItem:
    """One timestamped piece of coaching feedback, as an analyzer proposes it."""

    timestamp_seconds: float
    category: str
    message: str
    confidence: float
    impact: float

    def storable(self) -> FeedbackItem:
        """This item with the characters Postgres refuses removed from its text."""
        return replace(
            self, category=storable_text(self.category), message=storable_text(self.message)
        )

    def problems(self, video_duration_seconds: float | None) -> list[str]:
        """Why this item cannot be stored (empty when it is valid)."""
        found: list[str] = []
        if not math.isfinite(self.timestamp_seconds) or self.timestamp_seconds < 0:
            found.append("timestamp is negative or not a number")
        elif video_duration_seconds is not None and self.timestamp_seconds > video_duration_seconds:
            found.append("timestamp is past the end of the video")
        if not self.message or not self.message.strip():
            found.append("message is blank")
        if not self.category or not self.category.strip():
            found.append("category is blank")
        for name in ("confidence", "impact"):
            value = getattr(self, name)
            if not math.isfinite(value) or not 0.0 <= value <= 1.0:
                found.append(f"{name} is outside 0..1")
        return found


@dataclass(frozen=True)
class Analysis:
    """What an analyzer returns for one video."""

    duration_seconds: float | None
    items: tuple[FeedbackItem, ...]
    provider: str
    model: str = ""


@dataclass(frozen=True)
class SsmlSegment:
    index: int
    ssml: str


@dataclass(frozen=True)
class SsmlScript:
    """A feedback message written as SSML segments, each within the TTS input limit."""

    segments: tuple[SsmlSegment, ...]
    provider: str
    version: str
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Speech:
    """Synthesised audio for one SSML segment."""

    audio: bytes
    format: str  # file extension: "mp3" or "wav"
    content_type: str
    duration_ms: int
    provider: str
    version: str
