"""The reconciler (Cloud Scheduler, every minute; `cuecast reconcile`): for every stage,
reclaim expired leases, fail jobs out of attempts and ring lost doorbells."""

from __future__ import annotations

import logging

from shared.db import Database
from shared.domain import Stage
from shared.ports import Publisher
from shared.queue import QueuePolicy, ReconcileReport
from shared.services.runner import publish_after_commit

log = logging.getLogger("cuecast.reconcile")


def reconcile(
    db: Database, publisher: Publisher, topics: dict[Stage, str], policy: QueuePolicy
) -> ReconcileReport:
    """One sweep of every stage. Each stage commits before its doorbells are published. Safe
    to run concurrently with workers and with itself (SKIP LOCKED: disjoint sets)."""
    report = ReconcileReport()
    for stage in Stage:
        swept = db.sweep(stage, policy)
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
