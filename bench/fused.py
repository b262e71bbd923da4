"""A prototype of the proposed change "two statements per stage execution", measured next to
the real code (bench.throughput --variants fused, bench.limit's `fused` rows).

The entry points below decode the CloudEvent with shared.messages, run the stage's real
work step (SsmlStage._work: the writer and the size checks; AudioStage._work and _after:
synthesis, uploads, old-generation cleanup) and publish after commit with
shared.services.runner.publish_after_commit, but claim-and-load and finish-and-save are one
autocommit statement each (bench/fused.sql) instead of two transactions of 2-4 statements.
The failure paths (record_failure, NotDue, UnknownJob) are not prototyped: with instant
providers nothing fails; shipped, they would stay as they are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from psycopg import sql

from shared import messages
from shared.bootstrap import App
from shared.domain import Stage, Voice
from shared.queue import Claim
from shared.services.audio import Script
from shared.services.runner import publish_after_commit
from shared.services.ssml import Item

_TEXT = (Path(__file__).parent / "fused.sql").read_text(encoding="utf-8")
_PARTS = re.split(r"^-- name: (\w+)\s*$", _TEXT, flags=re.MULTILINE)
QUERIES = {
    name: sql.SQL(body.strip()) for name, body in zip(_PARTS[1::2], _PARTS[2::2], strict=True)
}


class FusedStages:
    """ssml and audio entry points for CuecastWorkers, on the same App."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _claim(self, stage: Stage, event: Any) -> tuple[Claim, tuple[Any, ...]] | None:
        doorbell = messages.decode_event(stage, event["type"], event.get_data())
        policy = self.app.policy
        params = {
            "key": doorbell.id,
            "lease_seconds": policy.lease_seconds,
            "max_attempts": policy.max_attempts,
        }
        with self.app.pool.connection() as conn:
            row = conn.execute(QUERIES[f"{stage}_claim_and_load"], params).fetchone()
        if row is None:
            return None  # shipped: job_state decides NotDue / UnknownJob / nothing to do
        job_id, key, generation, attempts = (int(v) for v in row[:4])
        return Claim(stage, job_id, key, generation, attempts), tuple(row[4:])

    def _voice(self, raw: Any) -> Voice:
        return Voice.from_dict(raw) if raw else self.app.settings.voice()

    def ssml(self, event: Any) -> None:
        claimed = self._claim(Stage.SSML, event)
        if claimed is None:
            return
        claim, (message, category, voice) = claimed
        script = self.app.ssml_stage._work(claim, Item(message, category, self._voice(voice)))
        with self.app.pool.connection() as conn:
            row = conn.execute(
                QUERIES["ssml_finish_and_save"],
                {
                    **claim.params(),
                    "provider": script.provider,
                    "version": script.version,
                    "indexes": [s.index for s in script.segments],
                    "ssml": [s.ssml for s in script.segments],
                    "count": len(script.segments),
                },
            ).fetchone()
        if row is not None and row[0]:
            publish_after_commit(
                self.app.publisher_for("ssml"),
                self.app.settings.topic(Stage.AUDIO),
                Stage.AUDIO,
                [claim.key],
            )

    def audio(self, event: Any) -> None:
        claimed = self._claim(Stage.AUDIO, event)
        if claimed is None:
            return
        claim, (job_id, user_id, voice, indexes, ssml) = claimed
        stage = self.app.audio_stage
        script = Script(job_id, user_id, self._voice(voice), list(zip(indexes, ssml, strict=True)))
        rendered = stage._work(claim, script)
        first = rendered.speeches[0]
        with self.app.pool.connection() as conn:
            row = conn.execute(
                QUERIES["audio_finish_and_save"],
                {
                    **claim.params(),
                    "indexes": [i for i, _ in script.segments],
                    "urls": rendered.paths,
                    "durations": [s.duration_ms for s in rendered.speeches],
                    "format": first.format,
                    "provider": first.provider,
                    "version": first.version,
                    "count": len(script.segments),
                },
            ).fetchone()
        if row is not None and row[0]:
            stage._after(claim, script, rendered, None)
