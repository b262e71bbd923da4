"""The reconciler (Cloud Scheduler, every minute; `cuecast reconcile`): for every stage,
reclaim expired leases, fail jobs out of attempts and ring lost doorbells; an audio job it
fails loses its generation's uploads, as a run that fails does."""

from __future__ import annotations

import logging

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
    storage: Storage | None = None,
) -> ReconcileReport:
    """One sweep of every stage. Each stage commits before its doorbells are published. Safe
    to run concurrently with workers and with itself (SKIP LOCKED: disjoint sets). With
    `storage`, the uploads of the audio jobs it failed are removed."""
    report = ReconcileReport()
    for stage in Stage:
        swept = db.sweep(stage, policy)
        report.republish.update(swept.republish)
        report.reclaimed.update(swept.reclaimed)
        report.failed.update(swept.failed)
        publish_after_commit(publisher, topics[stage], stage, swept.republish[stage])
        if stage is Stage.AUDIO and storage is not None and swept.failed[stage]:
            _remove_failed_audio(db, storage, swept.failed[stage])
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
