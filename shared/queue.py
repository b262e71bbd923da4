"""The job queue's values, no I/O: the policy (attempts, lease, capped backoff), a claim and
what it hands its stage, what a stage's finish writes, and a reconcile pass's report.

The queue itself is the job tables; the database gateway (shared/db) claims, finishes and
sweeps them, and the runner (shared/services/runner.py) drives a stage through them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from shared.domain import FeedbackItem, Speech, SsmlScript, Stage

_RNG = random.Random()  # noqa: S311 (jitter, not cryptography)


@dataclass(frozen=True)
class QueuePolicy:
    max_attempts: int = 5
    lease_seconds: int = 300
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 300.0
    doorbell_grace_seconds: float = 60

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


# What a claim hands its stage, read in the same statement (nulls when the row it comes
# from is gone: the stage fails the job with the reason).


@dataclass(frozen=True)
class AnalysisContext:
    user_id: str | None
    storage_path: str | None
    format: str | None
    voice: dict[str, str] | None


@dataclass(frozen=True)
class SsmlContext:
    message: str | None
    category: str | None
    voice: dict[str, str] | None


@dataclass(frozen=True)
class AudioContext:
    analysis_job_id: int | None
    user_id: str | None
    voice: dict[str, str] | None
    indexes: list[int]
    ssml: list[str]


Context = AnalysisContext | SsmlContext | AudioContext


@dataclass(frozen=True)
class Claimed:
    claim: Claim
    context: Any  # the stage's Context


# What a stage's finish writes, with the job's completion, in one transaction.


@dataclass(frozen=True)
class AnalysisWrites:
    items: list[FeedbackItem]
    results: dict[str, Any]  # analysis_jobs.results


@dataclass(frozen=True)
class SsmlWrites:
    script: SsmlScript


@dataclass(frozen=True)
class AudioWrites:
    indexes: list[int]
    paths: list[str]
    speeches: list[Speech]  # their audio already uploaded (and dropped)


Writes = AnalysisWrites | SsmlWrites | AudioWrites


@dataclass(frozen=True)
class Saved:
    """What a finish wrote that the stage acts on after the commit."""

    queued: list[int] = field(default_factory=list)  # feedback ids whose SSML was queued
    removed: list[int] = field(default_factory=list)  # feedback ids a re-run removed


# A doorbell is lost once a probe sent this much later than it has been delivered (and the
# job is still queued): more than a delivery's jitter and a claim's commit, so a doorbell
# that is on its way is not rung twice (migration 20251203000002).
PROBE_MARGIN_SECONDS = 0.25


@dataclass
class ReconcileReport:
    """What one reconcile pass did, per stage: ids republished, reclaimed, failed, and the
    probe sent down the topic after the commit."""

    republish: dict[Stage, list[int]] = field(default_factory=dict)
    reclaimed: dict[Stage, int] = field(default_factory=dict)
    failed: dict[Stage, list[int]] = field(default_factory=dict)
    probes: dict[Stage, int] = field(default_factory=dict)

    def total(self) -> int:
        return (
            sum(len(v) for v in self.republish.values())
            + sum(self.reclaimed.values())
            + sum(len(v) for v in self.failed.values())
        )
