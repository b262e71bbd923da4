"""The one gateway to the database. Every statement the library runs goes through it (named
queries from sql/queries.sql, nowhere else), and every row comes back as a typed value read
by column name (psycopg's `dict_row` / `class_row`), never by position.

`Database` runs each call on the process's pool, in autocommit or one transaction as the
call needs: the runner's three (`claim`, `finish`, `record_failure`: the `JobStore` port,
which the stages' unit tests fake in memory), the reconciler's sweep and the webhook's start,
the operators' reads and batches, and the local runtime's own steps. The modules behind it
(`jobs`, `reads`, `batches`, `local`) take a connection, for callers that run several in one
transaction (tests, benchmarks). The migrations are applied by shared/migrate.py, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psycopg_pool import ConnectionPool

from shared.db import batches, jobs, local, reads
from shared.domain import JobStatus, Stage, Voice
from shared.errors import Disposition
from shared.queue import Claim, Claimed, QueuePolicy, ReconcileReport, Saved, Writes
from shared.status import JobProgress, JobStory, StageStatus

__all__ = ["Database", "batches", "jobs", "local", "reads"]


class Database:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    # The runner's (shared/ports.JobStore): one statement each for ssml and audio.

    def claim(
        self, stage: Stage, key: int, policy: QueuePolicy, voice: Voice | None = None
    ) -> Claimed | None:
        with self.pool.connection() as conn:
            return jobs.claim(conn, stage, key, policy, voice)

    def finish(self, claim: Claim, writes: Writes) -> Saved | None:
        with self.pool.connection() as conn:
            return jobs.finish(conn, claim, writes)

    def record_failure(self, claim: Claim, exc: BaseException, policy: QueuePolicy) -> Disposition:
        with self.pool.connection() as conn, conn.transaction():
            return jobs.record_failure(conn, claim, exc, policy)

    # The reconciler's and the webhook's.

    def sweep(self, stage: Stage, policy: QueuePolicy) -> ReconcileReport:
        with self.pool.connection() as conn, conn.transaction():
            return jobs.sweep(conn, stage, policy)

    def stage_gauges(self, stage: Stage) -> dict[str, Any]:
        with self.pool.connection() as conn:
            return jobs.stage_gauges(conn, stage)

    def rerun(self, stage: Stage, key: int, message_id: str) -> str:
        with self.pool.connection() as conn, conn.transaction():
            return jobs.rerun(conn, stage, key, message_id)

    def probe_delivered(self, probe_id: int) -> bool:
        with self.pool.connection() as conn:
            return jobs.probe_delivered(conn, probe_id)

    def failed_audio_generations(self, ids: list[int]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return jobs.failed_audio_generations(conn, ids)

    def start_analysis(self, **request: Any) -> int:
        with self.pool.connection() as conn, conn.transaction():
            return jobs.start_analysis(conn, **request)

    # The operators' reads and batches.

    def stage_status(self, stage: Stage, failures: int = 20) -> StageStatus:
        with self.pool.connection() as conn:
            return reads.stage_status(conn, stage, failures)

    def job_story(self, job_id: int) -> JobStory | None:
        with self.pool.connection() as conn:
            return reads.job_story(conn, job_id)

    def job_progress(self, job_id: int) -> JobProgress | None:
        with self.pool.connection() as conn:
            return reads.job_progress(conn, job_id)

    def replay(
        self, stage: Stage, filters: dict[str, Any], *, requeue: tuple[JobStatus, ...] = ()
    ) -> tuple[list[tuple[int, str]], list[int]]:
        """The selected (id, status) pairs and those of them in a `requeue` status re-queued
        (a new generation, attempts reset), in one transaction."""
        with self.pool.connection() as conn, conn.transaction():
            selected = batches.replay_select(conn, stage, filters)
            chosen = [key for key, status in selected if status in requeue]
            requeued = batches.replay_requeue(conn, stage, chosen, requeue) if chosen else []
        return selected, requeued

    def backfill_candidates(
        self, job_id: int | None, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        with self.pool.connection() as conn, conn.transaction():
            yield from batches.backfill_candidates(conn, job_id, limit)

    def backfill_take(self, job_id: int | None, size: int) -> dict[Stage, list[int]]:
        with self.pool.connection() as conn, conn.transaction():
            return batches.backfill_take(conn, job_id, size)

    def unsettled(self, ids: list[int]) -> int:
        with self.pool.connection() as conn:
            return batches.unsettled(conn, ids)

    # The local runtime's (the demo acting as the app; the webhook step).

    def set_local_secrets(self, secrets: dict[str, str]) -> None:
        """The Vault stand-in's secrets (the webhook trigger's URL and shared secret)."""
        with self.pool.connection() as conn, conn.transaction():
            for name, value in secrets.items():
                local.set_secret(conn, name, value)

    def demo_upload(self, upload: local.Upload, email: str) -> int | None:
        """The user, the video written and completed as that user; the analysis job the
        upload trigger made (None if it made none)."""
        with self.pool.connection() as conn:
            with conn.transaction():
                local.create_user(conn, upload.user_id, email)
            video_id = local.upload_as_user(conn, upload)
            return local.job_for_video(conn, video_id)

    def take_webhook_requests(self) -> list[tuple[dict[str, str], Any]]:
        with self.pool.connection() as conn:
            return local.take_webhook_requests(conn)
