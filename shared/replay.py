"""Replay: republish chosen jobs' doorbells to their stage's topic.

Jobs are chosen per stage by message ids, statuses and age. With `requeue`, failed jobs go
back to `queued` (attempts reset, a new generation) in the same transaction that selects
them, and with `force` completed ones too (a re-run, e.g. after a voice change); the
doorbells are published after the commit. A doorbell for a job with nothing
to do (completed, or held by a live lease) is acknowledged without work, so replaying too
much is harmless; a dry run lists what would be sent and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared import messages
from shared.db import Database
from shared.domain import JobStatus, Stage
from shared.errors import ConfigurationError
from shared.ports import Publisher


@dataclass(frozen=True)
class ReplaySelection:
    stages: tuple[Stage, ...] = tuple(Stage)
    ids: tuple[int, ...] = ()
    statuses: tuple[JobStatus, ...] = ()
    older_than_s: float | None = None
    limit: int = 10_000

    def check(self) -> None:
        if not (self.ids or self.statuses or self.older_than_s is not None):
            raise ConfigurationError("choose jobs by --id, --status or --older-than")
        if self.ids and len(self.stages) != 1:
            raise ConfigurationError("--id names message ids of one stage: give one --stage")


@dataclass
class ReplayReport:
    selected: dict[Stage, list[tuple[int, str]]] = field(default_factory=dict)
    requeued: dict[Stage, list[int]] = field(default_factory=dict)
    published: dict[Stage, int] = field(default_factory=dict)
    dry_run: bool = False

    def total_published(self) -> int:
        return sum(self.published.values())


def replay(
    db: Database,
    publisher: Publisher,
    topics: dict[Stage, str],
    selection: ReplaySelection,
    *,
    requeue: bool = False,
    force: bool = False,
    dry_run: bool = False,
) -> ReplayReport:
    selection.check()
    report = ReplayReport(dry_run=dry_run)
    for stage in selection.stages:
        filters = {
            "keys": list(selection.ids) or None,
            "statuses": [s.value for s in selection.statuses] or None,
            "older_than_s": selection.older_than_s,
            "limit": selection.limit,
        }
        statuses = (JobStatus.FAILED,) * (requeue or force) + (JobStatus.COMPLETED,) * force
        selected, requeued = db.replay(stage, filters, requeue=() if dry_run else statuses)
        report.selected[stage] = selected
        report.requeued[stage] = requeued
        keys = [key for key, _ in selected]
        report.published[stage] = 0 if dry_run else len(keys)
        if keys and not dry_run:  # a failed publish raises: the count must be true
            publisher.publish(topics[stage], [messages.encode(stage, k) for k in keys])
    return report
