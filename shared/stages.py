"""Every stage and every function, declared once; the rest of cuecast derives from here.

A stage is a job table worked by one Pub/Sub-triggered function: its topic (the setting that
names it), the table, the column a message's id matches and the id's name in the message, the
column its last error goes to, when a queued job may be claimed, the stage after it and the
providers its function needs. The function graph (which function is fed by which topic and
publishes to which) is the three workers plus the webhook and the reconciler.

The settings (`Settings.topic`), the named queries' identifiers (`queries.stage_query`), the
message codec, the bootstrap, the entry points, the local runtime, the CLI, the Terraform
contract tests and a test of the stage-functions migration's table list all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain import Stage


@dataclass(frozen=True)
class StageSpec:
    stage: Stage  # its name in messages, logs and the CLI
    function: str  # the entry point in main.py that works it
    topic_setting: str  # the Settings field holding its topic's name
    job_table: str
    key: str  # the job table's column a message's id matches
    message_key: str  # the id's name in a Pub/Sub message
    error_column: str  # where a job's last error is written
    ready: str  # named query: when a queued job may be claimed
    claim_query: str  # named query: the claim with what the stage needs, in one statement
    next: Stage | None  # the stage its function rings after a job is done
    needs: frozenset[str]  # the providers its function uses (App attributes)


STAGES: dict[Stage, StageSpec] = {
    spec.stage: spec
    for spec in (
        StageSpec(
            Stage.ANALYSIS,
            "start_analysis",
            "topic_start_analysis",
            "analysis_jobs",
            key="id",
            message_key="analysis_job_id",
            error_column="error_message",
            ready="ready_always",
            claim_query="claim_analysis",
            next=Stage.SSML,
            needs=frozenset({"storage", "analyzer"}),
        ),
        StageSpec(
            Stage.SSML,
            "ssml",
            "topic_ssml",
            "ssml_jobs",
            key="feedback_id",
            message_key="feedback_id",
            error_column="last_error",
            ready="ready_always",
            claim_query="claim_ssml",
            next=Stage.AUDIO,
            needs=frozenset({"ssml_writer"}),
        ),
        StageSpec(
            Stage.AUDIO,
            "audio",
            "topic_audio",
            "audio_jobs",
            key="feedback_id",
            message_key="feedback_id",
            error_column="last_error",
            ready="ready_after_ssml",
            claim_query="claim_audio",
            next=None,
            needs=frozenset({"storage", "synthesizer"}),
        ),
    )
}


@dataclass(frozen=True)
class FunctionSpec:
    entry_point: str  # attribute of main.py
    trigger: Stage | None  # the topic that feeds it; None for HTTP functions
    publishes: tuple[Stage, ...]
    needs: frozenset[str] = frozenset()  # providers, and `webhook_secret`
    # Providers only some invocations use: their settings are required at start, but they
    # are built on first use, so a cold start does not import their SDK.
    occasional: frozenset[str] = frozenset()

    def uses(self) -> frozenset[str]:
        return self.needs | self.occasional

    @property
    def checks_webhook_secret(self) -> bool:
        """Public, and guarded by the shared secret instead of an identity."""
        return "webhook_secret" in self.needs


def _worker(spec: StageSpec) -> FunctionSpec:
    return FunctionSpec(spec.function, spec.stage, (spec.next,) if spec.next else (), spec.needs)


# In this order: `cuecast worker --port P` serves them on P, P+1, …
FUNCTIONS: dict[str, FunctionSpec] = {
    spec.entry_point: spec
    for spec in (
        # The webhook rings start-analysis for uploads, and ssml for edits (pg_net, in the
        # trigger that re-queues the item: migration 20251203000001).
        FunctionSpec("webhook", None, (Stage.ANALYSIS, Stage.SSML), frozenset({"webhook_secret"})),
        *(_worker(s) for s in STAGES.values()),
        # Storage only when a sweep fails an audio job (its uploads are removed).
        FunctionSpec("reconcile", None, tuple(STAGES), occasional=frozenset({"storage"})),
    )
}


def stage_of(function: str) -> Stage:
    """The stage a worker function works (KeyError for an HTTP function)."""
    trigger = FUNCTIONS[function].trigger
    if trigger is None:
        raise KeyError(f"{function} is not fed by a topic")
    return trigger
