"""How every stage runs a job. The runner owns the protocol; a stage (a `StageWork`) holds only
what is its own:

1. claim: one statement takes the job with what the stage needs (shared/db);
2. `load`: the stage turns that into its input, without I/O (a PermanentError fails the job);
3. `work`: providers and storage, with no transaction open;
4. `writes`, then finish: the job completed with the stage's writes, for the claim that did
   the work only (a re-queue meanwhile wins: the result is dropped);
5. `after`: after the commit, the next doorbells and the clean-up.

When the job fails for good after `load`, `discard` removes what the run left outside the
database (the audio stage's uploads of that generation): a failed job leaves no orphans.

A failure in steps 2 to 4 is recorded as errors.disposition decides: RetryLater is raised for a job
queued again after its backoff (Pub/Sub redelivers the message), and the run returns for a
job that failed for good.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from shared import logs, messages
from shared.domain import Stage, Voice
from shared.errors import Disposition, RetryLater
from shared.ports import JobStore, Publisher
from shared.queue import Claim, Claimed, QueuePolicy, Saved, Writes

log = logging.getLogger("cuecast.stage")

Ctx = TypeVar("Ctx")
Res = TypeVar("Res")


class Outcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    NOTHING_TO_DO = "nothing-to-do"  # completed, failed, leased elsewhere, or waiting
    STALE = "stale"  # the job was re-queued or reclaimed while this run worked


class StageWork(Protocol[Ctx, Res]):
    """What a stage does around the runner's claim and finish."""

    stage: Stage

    def load(self, claimed: Claimed) -> Ctx:
        """The claim's context as the stage's input; no I/O. PermanentError fails the job."""
        ...

    def work(self, claim: Claim, ctx: Ctx) -> Res:
        """The providers and storage; no transaction is open."""
        ...

    def writes(self, claim: Claim, ctx: Ctx, result: Res) -> Writes:
        """What the finish writes with the job's completion."""
        ...

    def after(self, claim: Claim, ctx: Ctx, result: Res, saved: Saved) -> None:
        """After the commit: publish the next doorbells, remove what is stale."""
        ...

    def discard(self, claim: Claim, ctx: Ctx) -> None:
        """After the job failed for good (committed): remove what this claim's generation
        wrote outside the database. No row points at it: rows are written by a finish."""
        ...


def run(
    jobs: JobStore,
    stage: StageWork[Any, Any],
    key: int,
    policy: QueuePolicy,
    voice: Voice | None = None,
) -> Outcome:
    """Run one job to completion or a recorded failure. Raises RetryLater (or NotDue) when
    Pub/Sub should redeliver; returns otherwise."""
    name = stage.stage
    claimed = jobs.claim(name, key, policy, voice)
    if claimed is None:
        log.info("nothing to claim", extra={"stage": name, "id": key})
        return Outcome.NOTHING_TO_DO
    claim = claimed.claim
    log.info("claimed", extra={"stage": name, "id": key, "attempt": claim.attempts})
    context: Any = _NOT_LOADED
    try:
        context = stage.load(claimed)
        result = stage.work(claim, context)
        saved = jobs.finish(claim, stage.writes(claim, context, result))
    except Exception as exc:  # what it means is errors.disposition's to say
        outcome = _conclude(claim, exc, jobs.record_failure(claim, exc, policy))
        if outcome is Outcome.FAILED and context is not _NOT_LOADED:
            _discard(stage, claim, context)
        return outcome
    if saved is None:
        log.warning("claim superseded; result dropped", extra={"stage": name, "id": key})
        return Outcome.STALE
    log.info("completed", extra={"stage": name, "id": key, "attempt": claim.attempts})
    stage.after(claim, context, result, saved)
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


_NOT_LOADED = object()


def _discard(stage: StageWork[Any, Any], claim: Claim, context: Any) -> None:
    """A failed job's clean-up; its own failure is logged (the job's failure stands)."""
    try:
        stage.discard(claim, context)
    except Exception as exc:
        log.warning(
            "could not remove what the failed run left",
            extra={"stage": claim.stage, "id": claim.key, "error": str(exc)},
        )


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
