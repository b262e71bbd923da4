"""Ports: what the stages need from the outside world. Adapters implement these Protocols."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol

from shared.domain import Analysis, Speech, SsmlScript, Voice

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


def iter_chunks(stream: BinaryIO, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Read a stream in bounded chunks (the video never sits whole in memory)."""
    while chunk := stream.read(chunk_size):
        yield chunk
