"""The webhook relay and the reconciler: the two ways a start-analysis doorbell is rung
besides Pub/Sub itself."""

from __future__ import annotations

import logging
from typing import Any

from psycopg_pool import ConnectionPool

from shared import logs, queue
from shared.domain import Stage
from shared.errors import PermanentError
from shared.ports import Publisher
from shared.queries import raw
from shared.queue import QueuePolicy, ReconcileReport
from shared.services.runner import publish_after_commit

log = logging.getLogger("cuecast.relay")


class NotFound(PermanentError):
    """The webhook names a recording or job that does not exist (HTTP 404)."""


def start_analysis(
    pool: ConnectionPool[Any],
    publisher: Publisher,
    topic: str,
    *,
    video_recording_id: int | None = None,
    video_path: str | None = None,
    analysis_job_id: int | None = None,
) -> int:
    """Resolve a start request to its analysis job (created or re-queued idempotently), then
    publish its doorbell. Returns the job id; raises NotFound for unknown recordings/jobs."""
    with pool.connection() as conn, conn.transaction():
        if analysis_job_id is not None:
            row = conn.execute(raw("analysis_job_exists"), {"id": analysis_job_id}).fetchone()
            job_id = row[0] if row else None
        else:
            if video_recording_id is None:
                found = conn.execute(raw("find_video_by_path"), {"path": video_path}).fetchone()
                if found is None:
                    raise NotFound(f"no video recording at path {video_path!r}")
                video_recording_id = int(found[0])
            row = conn.execute(
                raw("ensure_analysis_job"), {"video_id": video_recording_id}
            ).fetchone()
            job_id = row[0] if row else None
    if job_id is None:
        what = f"analysis job {analysis_job_id}" if analysis_job_id else "video recording"
        raise NotFound(f"no {what} {video_recording_id or ''}".strip())
    publisher.publish(topic, [{Stage.ANALYSIS.id_field: int(job_id)}], logs.trace_attributes())
    return int(job_id)


def reconcile(
    pool: ConnectionPool[Any],
    publisher: Publisher,
    topics: dict[Stage, str],
    policy: QueuePolicy,
) -> ReconcileReport:
    """One sweep of every stage: reclaim expired leases, fail jobs out of attempts, and ring
    lost doorbells. Each stage commits before its doorbells are published. Safe to run
    concurrently with workers and with itself (SKIP LOCKED: disjoint sets)."""
    report = ReconcileReport()
    for stage in Stage:
        with pool.connection() as conn, conn.transaction():
            swept = queue.sweep(conn, stage, policy)
        report.republish.update(swept.republish)
        report.reclaimed.update(swept.reclaimed)
        report.failed.update(swept.failed)
        publish_after_commit(publisher, topics[stage], stage, swept.republish[stage])
        if swept.total():
            log.info(
                "reconciled",
                extra={
                    "stage": stage,
                    "republished": len(swept.republish[stage]),
                    "reclaimed": swept.reclaimed[stage],
                    "failed": len(swept.failed[stage]),
                },
            )
    return report
