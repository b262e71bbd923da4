"""Small in-memory fakes of the ports, for the stages' unit tests (no Postgres)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from shared.domain import Analysis, Speech, Stage, Voice
from shared.errors import Disposition, ObjectNotFound, disposition
from shared.queue import Claim, Claimed, QueuePolicy, Saved, Writes


@dataclass
class FakeJobs:
    """The job store (shared/ports.JobStore) for one job: a claim hands out `context` once
    (then nothing, as a finished job); the finish records the writes and answers `saved`
    (None: the claim was superseded); a failure is recorded as errors.disposition says."""

    context: Any
    saved: Saved | None = field(default_factory=Saved)
    attempts: int = 1
    claims: int = 0
    finished: list[Writes] = field(default_factory=list)
    failures: list[tuple[BaseException, Disposition]] = field(default_factory=list)

    def claim(
        self, stage: Stage, key: int, policy: QueuePolicy, voice: Voice | None = None
    ) -> Claimed | None:
        self.claims += 1
        if self.claims > 1 or self.finished or self.failures:
            return None
        return Claimed(Claim(stage, 100 + key, key, 1, self.attempts), self.context)

    def finish(self, claim: Claim, writes: Writes) -> Saved | None:
        self.finished.append(writes)
        return self.saved

    def record_failure(self, claim: Claim, exc: BaseException, policy: QueuePolicy) -> Disposition:
        decided = disposition(exc, claim.attempts, policy.max_attempts)
        self.failures.append((exc, decided))
        return decided


@dataclass
class RecordingPublisher:
    sent: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def publish(
        self,
        topic: str,
        messages: Sequence[Mapping[str, object]],
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        self.sent += [(topic, dict(m)) for m in messages]


@dataclass
class DictStorage:
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)

    @contextmanager
    def open_read(self, bucket: str, path: str) -> Iterator[BinaryIO]:
        if (bucket, path) not in self.objects:
            raise ObjectNotFound(f"{bucket}/{path}: not found")
        yield io.BytesIO(self.objects[(bucket, path)])

    def upload(self, bucket: str, path: str, data: bytes, content_type: str) -> None:
        self.objects[(bucket, path)] = data

    def delete(self, bucket: str, paths: Sequence[str]) -> None:
        for path in paths:
            self.objects.pop((bucket, path), None)

    def list(self, bucket: str, prefix: str) -> list[str]:
        return sorted(p for b, p in self.objects if b == bucket and p.startswith(prefix + "/"))


@dataclass
class CannedAnalyzer:
    analysis: Analysis
    seen: list[int] = field(default_factory=list)

    def analyze(self, video: BinaryIO, *, size: int, content_type: str, voice: Voice) -> Analysis:
        self.seen.append(size)
        return self.analysis


@dataclass
class SilentSynthesizer:
    max_concurrency: int = 1
    spoken: list[str] = field(default_factory=list)

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        self.spoken.append(ssml)
        return Speech(b"RIFF....", "wav", "audio/wav", 500, "silent", "1")
