"""audio: synthesise every SSML segment of an item (bounded concurrency), upload each to
`processed` at a deterministic path under the owner's folder, write the segment rows and
complete; objects of older generations are removed after the commit."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from psycopg_pool import ConnectionPool

from shared.database import Conn
from shared.domain import Speech, Stage, Voice
from shared.errors import PermanentError
from shared.paths import audio_object_path, feedback_prefix
from shared.ports import PROCESSED_BUCKET, SpeechSynthesizer, Storage
from shared.queries import raw
from shared.queue import Claim, QueuePolicy, claim_with_context
from shared.services.runner import SUPERSEDED, Outcome, StageSteps, Superseded, execute

log = logging.getLogger("cuecast.audio")


@dataclass(frozen=True)
class Script:
    analysis_job_id: int
    user_id: str
    voice: Voice
    segments: list[tuple[int, str]]


@dataclass(frozen=True)
class Rendered:
    paths: list[str]
    speeches: list[Speech]


class AudioStage:
    stage = Stage.AUDIO

    def __init__(
        self,
        *,
        pool: ConnectionPool[Any],
        storage: Storage,
        synthesizer: SpeechSynthesizer,
        policy: QueuePolicy,
        default_voice: Voice,
    ) -> None:
        self.pool, self.storage, self.synthesizer = pool, storage, synthesizer
        self.policy, self.default_voice = policy, default_voice

    def run(self, feedback_id: int) -> Outcome:
        steps = StageSteps(
            claim=self._claim, load=self._load, work=self._work, finish=self._finish,
            after=self._after,
        )  # fmt: skip
        return execute(self.pool, self.stage, feedback_id, self.policy, steps)

    def _claim(self, conn: Conn, feedback_id: int) -> tuple[Claim, tuple[Any, ...]] | None:
        return claim_with_context(conn, self.stage, feedback_id, self.policy, raw("claim_audio"))

    def _load(self, claim: Claim, row: tuple[Any, ...]) -> Script:
        job_id, user_id, voice, indexes, ssml = row
        if not indexes:
            raise PermanentError(f"feedback {claim.key} has no SSML segments")
        return Script(
            job_id,
            user_id,
            Voice.from_dict(voice) if voice else self.default_voice,
            list(zip(indexes, ssml, strict=True)),
        )

    def _work(self, claim: Claim, script: Script) -> Rendered:
        workers = max(1, min(self.synthesizer.max_concurrency, len(script.segments)))
        if workers == 1:  # one segment, or a one-at-a-time voice: no thread pool to pay for
            speeches = [self._speak_and_upload(claim, script, *s) for s in script.segments]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="tts") as pool:
                speeches = list(
                    pool.map(lambda s: self._speak_and_upload(claim, script, *s), script.segments)
                )
        paths = [self._path(claim, script, index, speech) for (index, _), speech in
                 zip(script.segments, speeches, strict=True)]  # fmt: skip
        return Rendered(paths, speeches)

    def _path(self, claim: Claim, script: Script, index: int, speech: Speech) -> str:
        return audio_object_path(
            script.user_id,
            script.analysis_job_id,
            claim.key,
            claim.generation,
            index,
            speech.format,
        )

    def _speak_and_upload(self, claim: Claim, script: Script, index: int, ssml: str) -> Speech:
        speech = self.synthesizer.synthesize(ssml, script.voice)
        path = self._path(claim, script, index, speech)
        self.storage.upload(PROCESSED_BUCKET, path, speech.audio, speech.content_type)
        # Keep what the rows need, not the audio: a long item is hours of speech, and only
        # the segments being synthesised right now should be in memory.
        return replace(speech, audio=b"")

    def _finish(
        self, conn: Conn, claim: Claim, script: Script, rendered: Rendered
    ) -> Superseded | None:
        first = rendered.speeches[0]
        row = conn.execute(
            raw("finish_audio"),
            {
                **claim.params(),
                "indexes": [index for index, _ in script.segments],
                "urls": rendered.paths,
                "durations": [s.duration_ms for s in rendered.speeches],
                "format": first.format,
                "provider": first.provider,
                "version": first.version,
            },
        ).fetchone()
        return None if row is not None and row[0] else SUPERSEDED

    def _after(self, claim: Claim, script: Script, rendered: Rendered, saved: None) -> None:
        """Remove this item's objects from older generations (never newer ones). A first
        generation has none, and is spared the listing (an HTTP call on Supabase)."""
        if claim.generation <= 1:
            return
        prefix = feedback_prefix(script.user_id, script.analysis_job_id, claim.key)
        stale = [
            path
            for path in self.storage.list(PROCESSED_BUCKET, prefix)
            if path not in rendered.paths and _generation(path, prefix) < claim.generation
        ]
        if stale:
            self.storage.delete(PROCESSED_BUCKET, stale)


def _generation(path: str, prefix: str) -> int:
    folder = path[len(prefix) :].lstrip("/").split("/", 1)[0]
    return int(folder) if folder.isdigit() else 0
