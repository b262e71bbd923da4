"""ssml: write the item's message as SSML segments (0..n-1, each within the TTS limit); the
finish stores them and enqueues the item's audio in one statement; then ring the audio
doorbell."""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain import TTS_INPUT_LIMIT_BYTES, SsmlScript, Stage, Voice
from shared.errors import PermanentError
from shared.ports import Publisher, SsmlWriter
from shared.queue import Claim, Claimed, Saved, SsmlContext, SsmlWrites
from shared.services.runner import publish_after_commit


@dataclass(frozen=True)
class Item:
    message: str
    category: str
    voice: Voice


class SsmlStage:
    stage = Stage.SSML

    def __init__(
        self, *, writer: SsmlWriter, publisher: Publisher, default_voice: Voice, topic: str
    ) -> None:
        self.writer, self.publisher = writer, publisher
        self.default_voice, self.topic = default_voice, topic

    def load(self, claimed: Claimed) -> Item:
        context: SsmlContext = claimed.context
        key = claimed.claim.key
        if context.category is None:
            raise PermanentError(f"feedback {key} does not exist")
        if context.message is None or not context.message.strip():
            raise PermanentError(f"feedback {key} has a blank message")
        voice = Voice.from_dict(context.voice) if context.voice else self.default_voice
        return Item(context.message, context.category, voice)

    def work(self, claim: Claim, item: Item) -> SsmlScript:
        script = self.writer.write(item.message, category=item.category, voice=item.voice)
        if not script.segments:
            raise PermanentError("the SSML writer produced no segments")
        for segment in script.segments:
            size = len(segment.ssml.encode("utf-8"))
            if size > TTS_INPUT_LIMIT_BYTES:
                raise PermanentError(f"segment {segment.index} is {size} bytes, over the limit")
        return script

    def writes(self, claim: Claim, item: Item, script: SsmlScript) -> SsmlWrites:
        return SsmlWrites(script)

    def discard(self, claim: Claim, item: Item) -> None:
        """Nothing to remove: this stage writes only rows, and only in its finish."""

    def after(self, claim: Claim, item: Item, script: SsmlScript, saved: Saved) -> None:
        publish_after_commit(self.publisher, self.topic, Stage.AUDIO, [claim.key])
