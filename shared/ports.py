"""Ports: what the stages need from the outside world. Adapters implement these Protocols;
the database gateway (shared/db.Database) implements `JobStore`, and the stages' unit tests
fake it in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol

from shared.domain import Analysis, Speech, SsmlScript, Stage, Voice
from shared.errors import Disposition
from shared.queue import Claim, Claimed, QueuePolicy, Saved, Writes

RAW_BUCKET = "raw"
PROCESSED_BUCKET = "processed"


class Storage(Protocol):
    """Object storage with Supabase's bucket/path layout."""

    def open_read(self, bucket: str, path: str) -> AbstractContextManager[BinaryIO]:
        """A seekable, read-only stream of the object; never the whole object in memory.

        Raises PermanentError when the object does not exist.
        """
        ...

    def upload(self, bucket: str, path: str, data: bytes, content_type: str) -> None:
        """Write the object, replacing any existing one (upsert)."""
        ...

    def delete(self, bucket: str, paths: Sequence[str]) -> None:
        """Remove objects; paths that do not exist are ignored."""
        ...

    def list(self, bucket: str, prefix: str) -> list[str]:
        """Paths of every object under `prefix` (recursively), sorted."""
        ...


class Analyzer(Protocol):
    """Turns a video into timestamped feedback items."""

    def analyze(
        self, video: BinaryIO, *, size: int, content_type: str, voice: Voice
    ) -> Analysis: ...


class SsmlWriter(Protocol):
    """Writes one feedback message as SSML segments that each fit the TTS input limit."""

    def write(self, message: str, *, category: str, voice: Voice) -> SsmlScript: ...


class SpeechSynthesizer(Protocol):
    """Speaks one SSML segment. `max_concurrency` bounds how many calls may run at once."""

    max_concurrency: int

    def synthesize(self, ssml: str, voice: Voice) -> Speech: ...


class Publisher(Protocol):
    """Publishes JSON messages to a Pub/Sub topic; returns once every message is accepted."""

    def publish(
        self,
        topic: str,
        messages: Sequence[Mapping[str, object]],
        attributes: Mapping[str, str] | None = None,
    ) -> None: ...


class JobStore(Protocol):
    """The job tables, as the runner uses them."""

    def claim(
        self, stage: Stage, key: int, policy: QueuePolicy, voice: Voice | None = None
    ) -> Claimed | None:
        """Take the job for `key` with what its stage needs; None when there is nothing to
        do now. Raises NotDue (queued, not due yet) or UnknownJob."""
        ...

    def finish(self, claim: Claim, writes: Writes) -> Saved | None:
        """Complete the job with its stage's writes; None when the claim was superseded."""
        ...

    def record_failure(self, claim: Claim, exc: BaseException, policy: QueuePolicy) -> Disposition:
        """Retry the job after its backoff, or fail it, as errors.disposition decides."""
        ...
