"""The job queue on Postgres: claim, finish, retry with backoff, fail, reconcile.

Every function takes a connection inside the caller's transaction, so a stage's own writes
commit together with the job's new status. A finish, retry or fail only takes effect for the
claim that made it (same generation and attempt): a re-queue during a run wins.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql

from shared.domain import JobStatus, Stage
from shared.errors import NotDue, PermanentError, describe, is_transient
from shared.queries import TABLES

Conn = psycopg.Connection[tuple[object, ...]]
_RNG = random.Random()  # noqa: S311 (jitter, not cryptography)


class UnknownJob(PermanentError):
    """The message names a job that does not exist."""


@dataclass(frozen=True)
class QueuePolicy:
    max_attempts: int = 5
    lease_seconds: int = 300
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 300.0
    doorbell_grace_seconds: int = 60

    def backoff_seconds(self, attempts: int, rng: random.Random | None = None) -> float:
        """Capped exponential backoff with jitter: base·2^(n-1), at most cap, times 0.5 to 1."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2.0 ** (attempts - 1))
        jitter: float = (rng or _RNG).random()
        return ceiling * (0.5 + jitter / 2)


@dataclass(frozen=True)
class Claim:
    stage: Stage
    job_id: int
    key: int  # the message's id: analysis job id, or feedback id
    generation: int
    attempts: int

    def params(self) -> dict[str, int]:
        return {"id": self.job_id, "generation": self.generation, "attempts": self.attempts}


class Disposition(StrEnum):
    """What became of a failed run: retry (raise for redelivery) or failed (acknowledge)."""

    RETRY = "retry"
    FAILED = "failed"
    STALE = "stale"  # the claim was superseded (re-queued or reclaimed): nothing recorded


def claim_job(conn: Conn, stage: Stage, key: int, policy: QueuePolicy) -> Claim | None:
    """Claim the job for `key`, or None when there is nothing to do now.

    Raises NotDue when the job is queued but its due time lies ahead (Pub/Sub redelivers
    later) and UnknownJob when no such job exists.
    """
    claimed = claim_with_context(conn, stage, key, policy, TABLES[stage].query("claim_job"))
    return None if claimed is None else claimed[0]


def claim_with_context(
    conn: Conn, stage: Stage, key: int, policy: QueuePolicy, query: sql.Composed | str
) -> tuple[Claim, tuple[Any, ...]] | None:
    """claim_job with a query that also loads the stage's context: its first four columns
    are the claim (id, key, generation, attempts), the rest come back as the context."""
    row = conn.execute(
        query,
        {"key": key, "lease_seconds": policy.lease_seconds, "max_attempts": policy.max_attempts},
    ).fetchone()
    if row is not None:
        job_id, job_key, generation, attempts = (int(v) for v in row[:4])  # type: ignore[call-overload]
        return Claim(stage, job_id, job_key, generation, attempts), tuple(row[4:])
    state = conn.execute(TABLES[stage].query("job_state"), {"key": key}).fetchone()
    if state is None:
        raise UnknownJob(f"no {stage} job for id {key}")
    status, due, attempts, ready = state
    if status == JobStatus.QUEUED and not due and ready:
        raise NotDue(f"{stage} job for id {key} is not due yet (attempt {attempts})")
    return None


def finish_job(conn: Conn, claim: Claim) -> bool:
    """Mark the claimed job completed; False when the claim was superseded."""
    row = conn.execute(TABLES[claim.stage].query("finish_job"), claim.params()).fetchone()
    return row is not None and row[0] is not None


def fail_job(conn: Conn, claim: Claim, error: str) -> bool:
    return _for_claim(conn, claim, "fail_job", {"error": error})


def retry_job(conn: Conn, claim: Claim, error: str, delay_seconds: float) -> bool:
    return _for_claim(
        conn, claim, "retry_job", {"error": error, "delay_seconds": round(delay_seconds, 3)}
    )


def record_failure(
    conn: Conn, claim: Claim, exc: BaseException, policy: QueuePolicy
) -> Disposition:
    """The one place a failure becomes retry-or-failed: transient errors with attempts left
    are retried after the backoff; everything else fails the job with its error."""
    error = describe(exc)
    if is_transient(exc) and claim.attempts < policy.max_attempts:
        delay = policy.backoff_seconds(claim.attempts)
        done = retry_job(conn, claim, error, delay)
        return Disposition.RETRY if done else Disposition.STALE
    return Disposition.FAILED if fail_job(conn, claim, error) else Disposition.STALE


def _for_claim(conn: Conn, claim: Claim, query: str, extra: dict[str, object]) -> bool:
    params: dict[str, object] = {**claim.params(), **extra}
    return conn.execute(TABLES[claim.stage].query(query), params).fetchone() is not None


@dataclass
class ReconcileReport:
    """What one reconcile pass did, per stage: ids republished, reclaimed, failed."""

    republish: dict[Stage, list[int]] = field(default_factory=dict)
    reclaimed: dict[Stage, int] = field(default_factory=dict)
    failed: dict[Stage, list[int]] = field(default_factory=dict)

    def total(self) -> int:
        return (
            sum(len(v) for v in self.republish.values())
            + sum(self.reclaimed.values())
            + sum(len(v) for v in self.failed.values())
        )


def sweep(conn: Conn, stage: Stage, policy: QueuePolicy, limit: int = 500) -> ReconcileReport:
    """One stage's reconcile, inside the caller's transaction. The caller publishes the
    `republish` ids after commit."""
    table = TABLES[stage]
    params = {
        "max_attempts": policy.max_attempts,
        "grace_seconds": policy.doorbell_grace_seconds,
        "limit": limit,
    }
    report = ReconcileReport()
    reclaimed = conn.execute(table.query("reclaim_expired"), params).fetchall()
    requeued = [int(k) for k, status in reclaimed if status == JobStatus.QUEUED]  # type: ignore[call-overload]
    failed = [int(k) for k, status in reclaimed if status == JobStatus.FAILED]  # type: ignore[call-overload]
    failed += [int(k) for (k,) in conn.execute(table.query("fail_exhausted"), params)]  # type: ignore[call-overload]
    lost = [int(k) for (k,) in conn.execute(table.query("ring_lost_doorbells"), params)]  # type: ignore[call-overload]
    report.reclaimed[stage] = len(reclaimed)
    report.republish[stage] = sorted(set(requeued + lost))
    report.failed[stage] = sorted(failed)
    return report
