"""Instant providers and in-memory adapters for the benchmarks: what they measure is the
queue, the database and the function path, not Gemini or Text-to-Speech.

Each implements its port in shared/ports.py; `InstantSynthesizer(delay_s=0.2)` is the slow
TTS double of bench.audio.
"""

from __future__ import annotations

import io
import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import BinaryIO
from xml.sax.saxutils import escape

from shared.domain import Speech, SsmlScript, SsmlSegment, Voice
from shared.errors import PermanentError


class InstantSsmlWriter:
    """`segments` SSML documents per message, at once."""

    def __init__(self, segments: int = 1) -> None:
        self.segments = segments

    def write(self, message: str, *, category: str, voice: Voice) -> SsmlScript:
        text = escape(message)
        return SsmlScript(
            segments=tuple(
                SsmlSegment(i, f"<speak><s>{text}</s><s>part {i + 1}</s></speak>")
                for i in range(self.segments)
            ),
            provider="bench",
            version="bench-1",
        )


class InstantSynthesizer:
    """A fixed short MP3-typed payload, after `delay_s` (0: at once)."""

    def __init__(self, delay_s: float = 0.0, max_concurrency: int = 8) -> None:
        self.delay_s = delay_s
        self.max_concurrency = max_concurrency  # as GoogleSynthesizer's default
        self.calls = 0
        self._lock = threading.Lock()

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.calls += 1
        return Speech(b"ID3\x04bench", "mp3", "audio/mpeg", 1000, "bench", "bench-1")


class MemoryStorage:
    """The Storage port in a dict, with a folder index so `list(prefix)` costs what the
    prefix holds, not what the whole bucket holds."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self._folders: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()

    def open_read(self, bucket: str, path: str) -> AbstractContextManager[BinaryIO]:
        try:
            data = self.objects[(bucket, path)]
        except KeyError:
            raise PermanentError(f"object not found: {bucket}/{path}") from None
        return _reader(data)

    def upload(self, bucket: str, path: str, data: bytes, content_type: str) -> None:
        with self._lock:
            self.objects[(bucket, path)] = data
            for folder in _folders(path):
                self._folders.setdefault((bucket, folder), set()).add(path)

    def delete(self, bucket: str, paths: Sequence[str]) -> None:
        with self._lock:
            for path in paths:
                if self.objects.pop((bucket, path), None) is not None:
                    for folder in _folders(path):
                        self._folders.get((bucket, folder), set()).discard(path)

    def list(self, bucket: str, prefix: str) -> list[str]:
        with self._lock:
            return sorted(self._folders.get((bucket, prefix.strip("/")), ()))


def _folders(path: str) -> Iterator[str]:
    parts = path.split("/")
    for end in range(1, len(parts)):
        yield "/".join(parts[:end])


@contextmanager
def _reader(data: bytes) -> Iterator[BinaryIO]:
    with io.BytesIO(data) as stream:
        yield stream


class DoorbellQueue:
    """The Publisher port on an in-process FIFO: each message is one doorbell for the
    bench's worker threads (what Pub/Sub push does for the deployed functions)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()

    def publish(
        self,
        topic: str,
        messages: Sequence[Mapping[str, object]],
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        for message in messages:
            self.queue.put((topic, json.dumps(message).encode()))
