"""ssml: write the item's message as SSML segments (0..n-1, each within the TTS limit),
complete, enqueue the audio job in the same transaction, then ring the audio doorbell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import ConnectionPool

from shared.database import Conn
from shared.domain import TTS_INPUT_LIMIT_BYTES, SsmlScript, Stage, Voice
from shared.errors import PermanentError
from shared.ports import Publisher, SsmlWriter
from shared.queries import raw
from shared.queue import Claim, QueuePolicy
from shared.services.runner import Outcome, StageSteps, execute, publish_after_commit


@dataclass(frozen=True)
class Item:
    message: str
    category: str
    voice: Voice


class SsmlStage:
    stage = Stage.SSML
    next_stage = Stage.AUDIO

    def __init__(
        self,
        *,
        pool: ConnectionPool[Any],
        writer: SsmlWriter,
        publisher: Publisher,
        policy: QueuePolicy,
        default_voice: Voice,
        topic: str,
    ) -> None:
        self.pool, self.writer, self.publisher = pool, writer, publisher
        self.policy, self.default_voice, self.topic = policy, default_voice, topic

    def run(self, feedback_id: int) -> Outcome:
        steps = StageSteps(load=self._load, work=self._work, save=self._save, after=self._after)
        return execute(self.pool, self.stage, feedback_id, self.policy, steps)

    def _load(self, conn: Conn, claim: Claim) -> Item:
        row = conn.execute(raw("load_ssml_context"), {"feedback_id": claim.key}).fetchone()
        if row is None:
            raise PermanentError(f"feedback {claim.key} does not exist")
        message, category, voice = row
        if message is None or not message.strip():
            raise PermanentError(f"feedback {claim.key} has a blank message")
        return Item(message, category, Voice.from_dict(voice) if voice else self.default_voice)

    def _work(self, claim: Claim, item: Item) -> SsmlScript:
        script = self.writer.write(item.message, category=item.category, voice=item.voice)
        if not script.segments:
            raise PermanentError("the SSML writer produced no segments")
        for segment in script.segments:
            size = len(segment.ssml.encode("utf-8"))
            if size > TTS_INPUT_LIMIT_BYTES:
                raise PermanentError(f"segment {segment.index} is {size} bytes, over the limit")
        return script

    def _save(self, conn: Conn, claim: Claim, item: Item, script: SsmlScript) -> None:
        params = {"feedback_id": claim.key, "provider": script.provider, "version": script.version}
        conn.execute(
            raw("upsert_ssml_segments"),
            {
                **params,
                "indexes": [s.index for s in script.segments],
                "ssml": [s.ssml for s in script.segments],
            },
        )
        conn.execute(
            raw("delete_ssml_segments_from"),
            {"feedback_id": claim.key, "count": len(script.segments)},
        )
        conn.execute(raw("enqueue_audio"), {"feedback_id": claim.key})

    def _after(self, claim: Claim, item: Item, script: SsmlScript, saved: None) -> None:
        publish_after_commit(self.publisher, self.topic, self.next_stage, [claim.key])
