"""audio: synthesise every SSML segment of an item (bounded concurrency), upload each to
`processed` at a deterministic path under the owner's folder; the finish writes the segment
rows; objects of older generations are removed after the commit, and a run whose job fails
for good removes its own generation's uploads (so do the reconciler's failures)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from shared.domain import Speech, Stage, Voice
from shared.errors import PermanentError
from shared.paths import audio_object_path, feedback_prefix, generation_folder
from shared.ports import PROCESSED_BUCKET, SpeechSynthesizer, Storage
from shared.queue import AudioContext, AudioWrites, Claim, Claimed, Saved

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
        self, *, storage: Storage, synthesizer: SpeechSynthesizer, default_voice: Voice
    ) -> None:
        self.storage, self.synthesizer, self.default_voice = storage, synthesizer, default_voice

    def load(self, claimed: Claimed) -> Script:
        context: AudioContext = claimed.context
        if not context.indexes or context.analysis_job_id is None or context.user_id is None:
            raise PermanentError(f"feedback {claimed.claim.key} has no SSML segments")
        return Script(
            context.analysis_job_id,
            context.user_id,
            Voice.from_dict(context.voice) if context.voice else self.default_voice,
            list(zip(context.indexes, context.ssml, strict=True)),
        )

    def work(self, claim: Claim, script: Script) -> Rendered:
        workers = max(1, min(self.synthesizer.max_concurrency, len(script.segments)))
        if workers == 1:  # one segment, or a one-at-a-time voice: no thread pool to pay for
            done = [self._speak_and_upload(claim, script, *s) for s in script.segments]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="tts") as pool:
                done = list(
                    pool.map(lambda s: self._speak_and_upload(claim, script, *s), script.segments)
                )
        return Rendered([path for path, _ in done], [speech for _, speech in done])

    def _path(self, claim: Claim, script: Script, index: int, speech: Speech) -> str:
        return audio_object_path(
            script.user_id,
            script.analysis_job_id,
            claim.key,
            claim.generation,
            index,
            speech.format,
        )

    def _speak_and_upload(
        self, claim: Claim, script: Script, index: int, ssml: str
    ) -> tuple[str, Speech]:
        speech = self.synthesizer.synthesize(ssml, script.voice)
        path = self._path(claim, script, index, speech)
        self.storage.upload(PROCESSED_BUCKET, path, speech.audio, speech.content_type)
        # Keep what the rows need, not the audio: a long item is hours of speech, and only
        # the segments being synthesised right now should be in memory.
        return path, replace(speech, audio=b"")

    def writes(self, claim: Claim, script: Script, rendered: Rendered) -> AudioWrites:
        return AudioWrites(
            [index for index, _ in script.segments], rendered.paths, rendered.speeches
        )

    def discard(self, claim: Claim, script: Script) -> None:
        remove_generation(
            self.storage, script.user_id, script.analysis_job_id, claim.key, claim.generation
        )

    def after(self, claim: Claim, script: Script, rendered: Rendered, saved: Saved) -> None:
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


def remove_generation(
    storage: Storage, user_id: str, analysis_job_id: int, feedback_id: int, generation: int
) -> int:
    """Remove one generation's uploads of an item (a failed job's: no row points at them).
    Returns how many objects went."""
    folder = generation_folder(user_id, analysis_job_id, feedback_id, generation)
    left = storage.list(PROCESSED_BUCKET, folder)
    if left:
        storage.delete(PROCESSED_BUCKET, left)
        log.info(
            "removed a failed generation's audio", extra={"id": feedback_id, "objects": len(left)}
        )
    return len(left)


def _generation(path: str, prefix: str) -> int:
    folder = path[len(prefix) :].lstrip("/").split("/", 1)[0]
    return int(folder) if folder.isdigit() else 0
