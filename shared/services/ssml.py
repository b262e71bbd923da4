"""ssml: write the item's message as SSML segments (0..n-1, each within the TTS limit),
complete, enqueue the audio job in the same statement, then ring the audio doorbell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import ConnectionPool

from shared.database import Conn
from shared.domain import TTS_INPUT_LIMIT_BYTES, SsmlScript, Stage, Voice
from shared.errors import PermanentError
from shared.ports import Publisher, SsmlWriter
from shared.queries import raw
from shared.queue import Claim, QueuePolicy, claim_with_context
from shared.services.runner import (
    SUPERSEDED,
    Outcome,
    StageSteps,
    Superseded,
    execute,
    publish_after_commit,
)


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
        steps = StageSteps(
            claim=self._claim, load=self._load, work=self._work, finish=self._finish,
            after=self._after,
        )  # fmt: skip
        return execute(self.pool, self.stage, feedback_id, self.policy, steps)

    def _claim(self, conn: Conn, feedback_id: int) -> tuple[Claim, tuple[Any, ...]] | None:
        return claim_with_context(conn, self.stage, feedback_id, self.policy, raw("claim_ssml"))

    def _load(self, claim: Claim, row: tuple[Any, ...]) -> Item:
        message, category, voice = row
        if category is None:
            raise PermanentError(f"feedback {claim.key} does not exist")
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

    def _finish(
        self, conn: Conn, claim: Claim, item: Item, script: SsmlScript
    ) -> Superseded | None:
        row = conn.execute(
            raw("finish_ssml"),
            {
                **claim.params(),
                "provider": script.provider,
                "version": script.version,
                "indexes": [s.index for s in script.segments],
                "ssml": [s.ssml for s in script.segments],
            },
        ).fetchone()
        return None if row is not None and row[0] else SUPERSEDED

    def _after(self, claim: Claim, item: Item, script: SsmlScript, saved: None) -> None:
        publish_after_commit(self.publisher, self.topic, self.next_stage, [claim.key])
