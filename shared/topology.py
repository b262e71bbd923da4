"""Which function consumes which topic and publishes to which, and what settings each reads.

The bootstrap enforces this at run time (a function's publisher refuses any other topic, and
its settings are checked at start), and the Terraform contract tests read it, so the code and
the infrastructure are held to the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain import Stage
from shared.settings import Settings


@dataclass(frozen=True)
class FunctionSpec:
    entry_point: str  # attribute of main.py
    trigger: Stage | None  # the topic that feeds it; None for HTTP functions
    publishes: tuple[Stage, ...]
    uses_storage: bool = False
    uses_analyzer: bool = False
    uses_ssml_writer: bool = False
    uses_tts: bool = False
    checks_webhook_secret: bool = False


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.entry_point: spec
    for spec in (
        FunctionSpec(
            "webhook", trigger=None, publishes=(Stage.ANALYSIS,), checks_webhook_secret=True
        ),
        FunctionSpec(
            "start_analysis",
            trigger=Stage.ANALYSIS,
            publishes=(Stage.SSML,),
            uses_storage=True,
            uses_analyzer=True,
        ),
        FunctionSpec("ssml", trigger=Stage.SSML, publishes=(Stage.AUDIO,), uses_ssml_writer=True),
        FunctionSpec("audio", trigger=Stage.AUDIO, publishes=(), uses_storage=True, uses_tts=True),
        FunctionSpec(
            "reconcile",
            trigger=None,
            publishes=(Stage.ANALYSIS, Stage.SSML, Stage.AUDIO),
            uses_storage=True,
        ),
    )
}


def required_settings(settings: Settings, spec: FunctionSpec) -> list[str]:
    """Field names of `Settings` that must be set for `spec` under the selected adapters."""
    needed = ["database_url"]
    if spec.publishes and settings.publisher == "pubsub":
        needed.append("gcp_project")
    if spec.uses_storage and settings.storage == "supabase":
        needed += ["supabase_url", "supabase_service_role_key"]
    gemini = (spec.uses_analyzer and settings.analyzer == "gemini") or (
        spec.uses_ssml_writer and settings.ssml_writer == "gemini"
    )
    if gemini:
        needed.append("gemini_api_key")
    if spec.checks_webhook_secret:
        needed.append("webhook_secret")
    return needed


def env_names(fields: list[str]) -> list[str]:
    """The environment variable names (aliases) of settings fields."""
    return [Settings.model_fields[name].alias or name.upper() for name in fields]
