"""How every stage runs a job: claim, work outside any transaction, finish — or record the
failure — and publish only after the commit.

Two transactions per execution: claim-and-load, then finish-and-save (or the failure
record). For ssml and audio each is one statement, a function call whose plan the server
keeps (migrations/20251201000001_stage_functions.sql). Providers are never called while a
transaction is open.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from psycopg_pool import ConnectionPool

from shared import logs, messages, queue
from shared.database import Conn
from shared.domain import Stage
from shared.errors import TransientError
from shared.ports import Publisher
from shared.queue import Claim, Disposition, QueuePolicy

log = logging.getLogger("cuecast.stage")

Ctx = TypeVar("Ctx")
Res = TypeVar("Res")
Saved = TypeVar("Saved")


class Outcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    NOTHING_TO_DO = "nothing-to-do"  # completed, failed, leased elsewhere, or waiting
    STALE = "stale"  # the job was re-queued or reclaimed while this run worked


class RetryLater(TransientError):
    """Raised out of a function so that Pub/Sub redelivers the message."""


class Superseded:
    """What a finish step returns when the claim was superseded: nothing was written."""


SUPERSEDED = Superseded()


@dataclass(frozen=True)
class StageSteps(Generic[Ctx, Res, Saved]):
    """The stage-specific steps around the shared claim/finish protocol."""

    claim: Callable[[Conn, int], tuple[Claim, tuple[Any, ...]] | None]  # claim, raw context
    load: Callable[[Claim, tuple[Any, ...]], Ctx]  # no I/O: the context, or PermanentError
    work: Callable[[Claim, Ctx], Res]  # no transaction open: providers, storage
    finish: Callable[[Conn, Claim, Ctx, Res], Saved | Superseded]  # complete and save
    after: Callable[[Claim, Ctx, Res, Saved], None]  # after commit: publish, clean up


def execute(
    pool: ConnectionPool[Any],
    stage: Stage,
    key: int,
    policy: QueuePolicy,
    steps: StageSteps[Ctx, Res, Saved],
) -> Outcome:
    """Run one job to completion or a recorded failure. Raises RetryLater (or NotDue) when
    Pub/Sub should redeliver; returns otherwise."""
    with pool.connection() as conn:
        claimed = steps.claim(conn, key)
    if claimed is None:
        log.info("nothing to claim", extra={"stage": stage, "id": key})
        return Outcome.NOTHING_TO_DO
    claim, row = claimed
    log.info("claimed", extra={"stage": stage, "id": key, "attempt": claim.attempts})
    try:
        context = steps.load(claim, row)
        result = steps.work(claim, context)
        with pool.connection() as conn:
            saved = steps.finish(conn, claim, context, result)
    except Exception as exc:  # classified in record_failure
        with pool.connection() as conn, conn.transaction():
            disposition = queue.record_failure(conn, claim, exc, policy)
        return _conclude(claim, exc, disposition)
    if isinstance(saved, Superseded):
        log.warning("claim superseded; result dropped", extra={"stage": stage, "id": key})
        return Outcome.STALE
    log.info("completed", extra={"stage": stage, "id": key, "attempt": claim.attempts})
    steps.after(claim, context, result, saved)
    return Outcome.COMPLETED


def _conclude(claim: Claim, exc: Exception, disposition: Disposition) -> Outcome:
    """After the failure is committed: raise for redelivery, or acknowledge."""
    fields = {"stage": claim.stage, "id": claim.key, "attempt": claim.attempts, "error": str(exc)}
    if disposition is Disposition.RETRY:
        log.warning("transient failure; will retry", extra=fields)
        raise RetryLater(f"{claim.stage} {claim.key} attempt {claim.attempts}: {exc}") from exc
    if disposition is Disposition.STALE:
        log.warning("failure of a superseded claim ignored", extra=fields)
        return Outcome.STALE
    log.error("failed permanently", extra=fields)
    return Outcome.FAILED


def publish_after_commit(publisher: Publisher, topic: str, stage: Stage, ids: list[int]) -> None:
    """Ring the next stage's doorbells. A failure is logged, not raised: the work is
    committed, and the reconciler rings any bell that was lost."""
    if not ids:
        return
    try:
        publisher.publish(topic, [messages.encode(stage, i) for i in ids], logs.trace_attributes())
    except Exception as exc:  # the reconciler republishes from the tables
        log.error(
            "publish failed after commit; the reconciler will ring again",
            extra={"topic": topic, "ids": json.dumps(ids[:50]), "error": str(exc)},
        )
