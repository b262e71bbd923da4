"""The reconciler (Cloud Scheduler, every minute; `cuecast reconcile`): for every stage,
reclaim expired leases, fail jobs out of attempts and ring lost doorbells; an audio job it
fails loses its generation's uploads, as a run that fails does.

A doorbell counts as lost only once the bus has moved past it: each sweep sends a probe down
every stage topic, and a queued job is rung again when a probe sent after its doorbell has
been delivered (migration 20251203000002). A lagging bus delays both, so the jobs waiting in
it are not rung again and the backlog does not grow."""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared import logs, messages
from shared.db import Database
from shared.domain import Stage
from shared.ports import Publisher, Storage
from shared.queue import QueuePolicy, ReconcileReport
from shared.services.audio import remove_generation
from shared.services.runner import publish_after_commit

log = logging.getLogger("cuecast.reconcile")


def reconcile(
    db: Database,
    publisher: Publisher,
    topics: dict[Stage, str],
    policy: QueuePolicy,
    storage: Storage | Callable[[], Storage] | None = None,
) -> ReconcileReport:
    """One sweep of every stage. Each stage commits before its doorbells are published. Safe
    to run concurrently with workers and with itself (SKIP LOCKED: disjoint sets). With
    `storage` (or a function that builds it, called only when needed), the uploads of the
    audio jobs it failed are removed."""
    report = ReconcileReport()
    for stage in Stage:
        swept = db.sweep(stage, policy)
        report.republish.update(swept.republish)
        report.reclaimed.update(swept.reclaimed)
        report.failed.update(swept.failed)
        report.probes.update(swept.probes)
        publish_after_commit(publisher, topics[stage], stage, swept.republish[stage])
        _send_probe(publisher, topics[stage], swept.probes[stage])
        if stage is Stage.AUDIO and storage is not None and swept.failed[stage]:
            _remove_failed_audio(
                db, storage() if callable(storage) else storage, swept.failed[stage]
            )
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
        _log_gauges(db, stage)
    return report


GAUGES_MESSAGE = "stage gauges"  # terraform/monitoring.tf's log-based metrics match it
GAUGES = ("queued", "processing", "failed", "oldest_queued_s")


def _log_gauges(db: Database, stage: Stage) -> None:
    """One line per stage and sweep, for the log-based metrics and their alerts."""
    try:
        gauges = db.stage_gauges(stage)
    except Exception as exc:  # the sweep's work is done; a missing line is all this costs
        log.warning("stage gauges not read", extra={"stage": stage, "error": str(exc)})
        return
    log.info(GAUGES_MESSAGE, extra={"stage": str(stage), **{k: gauges[k] for k in GAUGES}})


def _remove_failed_audio(db: Database, storage: Storage, ids: list[int]) -> None:
    for job in db.failed_audio_generations(ids):
        try:
            remove_generation(
                storage,
                job["user_id"],
                job["analysis_job_id"],
                job["feedback_id"],
                job["generation"],
            )
        except Exception as exc:  # the job's failure stands; the next failure tries again
            log.warning(
                "could not remove a failed job's audio",
                extra={"id": job["feedback_id"], "error": str(exc)},
            )


def _send_probe(publisher: Publisher, topic: str, probe_id: int) -> None:
    """The probe behind this sweep's doorbells; a failed send only delays the next ring."""
    try:
        publisher.publish(topic, [messages.encode_probe(probe_id)], logs.trace_attributes())
    except Exception as exc:
        log.warning("probe not sent", extra={"topic": topic, "error": str(exc)})
