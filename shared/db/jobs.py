"""The job tables: claim, finish with the stage's writes, retry or fail, reconcile, and the
start of an analysis. Each function takes a connection, so a caller may run several in one
transaction (the tests and the benchmarks do); `Database` (shared/db) runs them on its pool.

A finish, retry or fail takes effect only for the claim that made it (same generation and
attempt): a re-queue during a run wins. Every statement is a named query (sql/queries.sql);
ssml and audio claim and finish in one statement each (PL/pgSQL functions whose plans the
server keeps: migrations/20251201000001), and so does start-analysis's claim
(20251202000002).
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row, scalar_row
from psycopg.types.json import Jsonb

from shared.domain import ItemStatus, JobStatus, Stage, Voice
from shared.errors import (
    Disposition,
    NotDue,
    NotFound,
    UnknownJob,
    describe,
    disposition,
)
from shared.pool import Conn
from shared.queries import raw, stage_query
from shared.queue import (
    PROBE_MARGIN_SECONDS,
    AnalysisContext,
    AnalysisWrites,
    AudioContext,
    AudioWrites,
    Claim,
    Claimed,
    QueuePolicy,
    ReconcileReport,
    Saved,
    SsmlContext,
    SsmlWrites,
    Writes,
)
from shared.stages import STAGES

_CONTEXT = {Stage.ANALYSIS: AnalysisContext, Stage.SSML: SsmlContext, Stage.AUDIO: AudioContext}
_CLAIM_FIELDS = ("id", "key", "generation", "attempts")


def claim(
    conn: Conn, stage: Stage, key: int, policy: QueuePolicy, voice: Voice | None = None
) -> Claimed | None:
    """Claim the job for `key` with what its stage needs, or None when there is nothing to
    do now. Raises NotDue when the job is queued but not due yet (Pub/Sub redelivers later)
    and UnknownJob when no such job exists."""
    params: dict[str, Any] = {
        "key": key,
        "lease_seconds": policy.lease_seconds,
        "max_attempts": policy.max_attempts,
        "voice": Jsonb(voice.as_dict()) if voice else None,
    }
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(raw(STAGES[stage].claim_query), params).fetchone()
    if row is None:
        _why_not_claimed(conn, stage, key)
        return None
    taken = Claim(stage, *(int(row.pop(name)) for name in _CLAIM_FIELDS))
    return Claimed(taken, _CONTEXT[stage](**row))


def claim_job(conn: Conn, stage: Stage, key: int, policy: QueuePolicy) -> Claim | None:
    """The claim alone (cuecast.claim_<table>), without the stage's context."""
    params = {
        "key": key,
        "lease_seconds": policy.lease_seconds,
        "max_attempts": policy.max_attempts,
    }
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(stage_query(stage, "claim_job"), params).fetchone()
    if row is None:
        _why_not_claimed(conn, stage, key)
        return None
    return Claim(stage, *(int(row[name]) for name in _CLAIM_FIELDS))


def _why_not_claimed(conn: Conn, stage: Stage, key: int) -> None:
    """Nothing was claimed: raise when Pub/Sub should redeliver or the job does not exist."""
    with conn.cursor(row_factory=dict_row) as cursor:
        state = cursor.execute(stage_query(stage, "job_state"), {"key": key}).fetchone()
    if state is None:
        raise UnknownJob(f"no {stage} job for id {key}")
    if state["status"] == JobStatus.QUEUED and not state["due"] and state["ready"]:
        raise NotDue(f"{stage} job for id {key} is not due yet (attempt {state['attempts']})")


def finish(conn: Conn, claimed: Claim, writes: Writes) -> Saved | None:
    """Complete the job and write what its stage made, for the claim that did the work only;
    None when the claim was superseded (nothing is written)."""
    if isinstance(writes, SsmlWrites):
        return _finish_ssml(conn, claimed, writes)
    if isinstance(writes, AudioWrites):
        return _finish_audio(conn, claimed, writes)
    return _finish_analysis(conn, claimed, writes)


def _finish_ssml(conn: Conn, claimed: Claim, writes: SsmlWrites) -> Saved | None:
    script = writes.script
    params = {
        **claimed.params(),
        "provider": script.provider,
        "version": script.version,
        "indexes": [s.index for s in script.segments],
        "ssml": [s.ssml for s in script.segments],
    }
    return Saved() if _value(conn, raw("finish_ssml"), params) else None


def _finish_audio(conn: Conn, claimed: Claim, writes: AudioWrites) -> Saved | None:
    first = writes.speeches[0]
    params = {
        **claimed.params(),
        "indexes": writes.indexes,
        "urls": writes.paths,
        "durations": [s.duration_ms for s in writes.speeches],
        "format": first.format,
        "provider": first.provider,
        "version": first.version,
    }
    return Saved() if _value(conn, raw("finish_audio"), params) else None


def _finish_analysis(conn: Conn, claimed: Claim, writes: AnalysisWrites) -> Saved | None:
    """The job completed, its items upserted by index (a re-run replaces them, an unchanged
    message re-queues nothing), the items a re-run no longer has removed, the results."""
    items = writes.items
    with conn.transaction():
        if not finish_job(conn, claimed):
            return None
        params = {
            "job_id": claimed.key,
            "indexes": list(range(len(items))),
            "timestamps": [i.timestamp_seconds for i in items],
            "categories": [i.category.strip() for i in items],
            "messages": [i.message.strip() for i in items],
            "confidences": [i.confidence for i in items],
            "impacts": [i.impact for i in items],
        }
        with conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(raw("upsert_feedback"), params).fetchall()
            removed = cursor.execute(
                raw("delete_feedback_from"), {"job_id": claimed.key, "count": len(items)}
            ).fetchall()
        conn.execute(
            raw("record_analysis_results"), {"id": claimed.key, "results": Jsonb(writes.results)}
        )
    return Saved(
        queued=[int(r["id"]) for r in rows if r["ssml_status"] == ItemStatus.QUEUED],
        removed=[int(r["id"]) for r in removed],
    )


def finish_job(conn: Conn, claimed: Claim) -> bool:
    """Mark the claimed job completed (no stage writes); False when it was superseded."""
    return _value(conn, stage_query(claimed.stage, "finish_job"), claimed.params()) is not None


def fail_job(conn: Conn, claimed: Claim, error: str) -> bool:
    return _for_claim(conn, claimed, "fail_job", {"error": error})


def retry_job(conn: Conn, claimed: Claim, error: str, delay_seconds: float) -> bool:
    extra = {"error": error, "delay_seconds": round(delay_seconds, 3)}
    return _for_claim(conn, claimed, "retry_job", extra)


def record_failure(
    conn: Conn, claimed: Claim, exc: BaseException, policy: QueuePolicy
) -> Disposition:
    """Record a failed run as errors.disposition decides: retried after the backoff, or
    failed with its error; STALE when the claim was superseded meanwhile."""
    error = describe(exc)
    decided = disposition(exc, claimed.attempts, policy.max_attempts)
    if decided is Disposition.RETRY:
        done = retry_job(conn, claimed, error, policy.backoff_seconds(claimed.attempts))
    else:
        done = fail_job(conn, claimed, error)
    return decided if done else Disposition.STALE


def _for_claim(conn: Conn, claimed: Claim, query: str, extra: dict[str, object]) -> bool:
    params: dict[str, object] = {**claimed.params(), **extra}
    return conn.execute(stage_query(claimed.stage, query), params).fetchone() is not None


def sweep(conn: Conn, stage: Stage, policy: QueuePolicy, limit: int = 500) -> ReconcileReport:
    """One stage's reconcile, inside the caller's transaction: reclaim expired leases, fail
    jobs out of attempts, find lost doorbells. The caller publishes `republish` after commit."""
    params = {
        "max_attempts": policy.max_attempts,
        "grace_seconds": policy.doorbell_grace_seconds,
        "margin_seconds": PROBE_MARGIN_SECONDS,
        "stage": str(stage),
        "limit": limit,
    }
    with conn.cursor(row_factory=dict_row) as cursor:
        reclaimed = cursor.execute(stage_query(stage, "reclaim_expired"), params).fetchall()
        exhausted = cursor.execute(stage_query(stage, "fail_exhausted"), params).fetchall()
        lost = cursor.execute(stage_query(stage, "ring_lost_doorbells"), params).fetchall()
        probe = cursor.execute(raw("probe_send"), params).fetchone()
    requeued = [int(r["key"]) for r in reclaimed if r["status"] == JobStatus.QUEUED]
    failed = [int(r["key"]) for r in reclaimed if r["status"] == JobStatus.FAILED]
    failed += [int(r["key"]) for r in exhausted]
    report = ReconcileReport()
    report.reclaimed[stage] = len(reclaimed)
    report.republish[stage] = sorted(set(requeued + [int(r["key"]) for r in lost]))
    report.failed[stage] = sorted(failed)
    report.probes[stage] = int(probe["id"]) if probe else 0
    return report


def stage_gauges(conn: Conn, stage: Stage) -> dict[str, Any]:
    """queued, processing and failed counts and the oldest due queued job's age (s)."""
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(stage_query(stage, "stage_gauges")).fetchone()
    assert row is not None
    return {k: (round(float(v), 1) if k == "oldest_queued_s" else int(v)) for k, v in row.items()}


def rerun(conn: Conn, stage: Stage, key: int, message_id: str) -> str:
    """Re-queue a job for a re-run message: 'requeued', 'repeated', 'running' or 'missing'."""
    params = {"stage": str(stage), "key": key, "message_id": message_id}
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(raw("rerun"), params).fetchone()
    return str(row["said"]) if row else "missing"


def probe_delivered(conn: Conn, probe_id: int) -> bool:
    """Mark a reconciler probe delivered (False for an unknown or repeated one)."""
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(raw("probe_delivered"), {"id": probe_id}).fetchone()
    return bool(row and row["delivered"])


def failed_audio_generations(conn: Conn, ids: list[int]) -> list[dict[str, Any]]:
    """(feedback_id, analysis_job_id, user_id, generation) of these items' failed audio jobs."""
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(raw("failed_audio_generations"), {"ids": ids}).fetchall()


def start_analysis(
    conn: Conn,
    *,
    video_recording_id: int | None = None,
    video_path: str | None = None,
    analysis_job_id: int | None = None,
) -> int:
    """The analysis job a start request names: by job id, or the recording's (created or
    re-queued idempotently, by id or by storage path). Raises NotFound."""
    if analysis_job_id is not None:
        found = _value(conn, raw("analysis_job_exists"), {"id": analysis_job_id})
        if found is None:
            raise NotFound(f"no analysis job {analysis_job_id}")
        return int(found)
    if video_recording_id is None:
        video = _value(conn, raw("find_video_by_path"), {"path": video_path})
        if video is None:
            raise NotFound(f"no video recording at path {video_path!r}")
        video_recording_id = int(video)
    job = _value(conn, raw("ensure_analysis_job"), {"video_id": video_recording_id})
    if job is None:
        raise NotFound(f"no video recording {video_recording_id}")
    return int(job)


def _value(conn: Conn, query: Any, params: dict[str, Any]) -> Any:
    """The value of a query that answers one column (None when it answers no row)."""
    with conn.cursor(row_factory=scalar_row) as cursor:
        return cursor.execute(query, params).fetchone()
