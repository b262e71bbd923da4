"""Settings from the environment, validated by a pydantic model. Every variable is documented
in docs/settings.md (a test compares).

`Settings()` reads each field's variable (its alias, in any case) from the environment, and
keyword arguments (by variable or field name) win over it; `Settings.model_validate(values)`
reads only `values`. pydantic-settings did this before; without it the module imports in
65 ms instead of 94 ms (on top of flask and psycopg), which every cold start pays
(bench/README.md, "Cold starts").

Adapters are chosen by settings alone: the defaults run everything offline; the production
values select Gemini, Cloud Text-to-Speech, Supabase Storage and Pub/Sub. What a function
needs under the chosen adapters (`required_for`) and the one way a missing setting is
reported (`require`) are here too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from shared.domain import Stage, Voice
from shared.errors import ConfigurationError
from shared.stages import STAGES, FunctionSpec, StageSpec


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_environment(type(self)), **_by_alias(type(self), values)})

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    # Local runs only: the project-local folder (embedded Postgres data, sample video, logs)
    # and the server tried when DATABASE_URL is unset.
    local_home: str = Field(default=".cuecast", alias="CUECAST_HOME")
    local_database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres", alias="CUECAST_LOCAL_DATABASE_URL"
    )
    db_pool_max_size: int = Field(default=4, ge=1, alias="CUECAST_DB_POOL_MAX_SIZE")
    statement_timeout_ms: int = Field(default=30_000, ge=0, alias="CUECAST_STATEMENT_TIMEOUT_MS")

    storage: Literal["local", "supabase"] = Field(default="local", alias="CUECAST_STORAGE")
    # Unset: <CUECAST_HOME>/storage, so CUECAST_HOME moves everything local under it.
    storage_dir_setting: str | None = Field(default=None, alias="CUECAST_STORAGE_DIR")
    supabase_url: str | None = Field(default=None, alias="SUPABASE_URL")
    supabase_service_role_key: SecretStr | None = Field(
        default=None, alias="SUPABASE_SERVICE_ROLE_KEY"
    )

    publisher: Literal["local", "pubsub"] = Field(default="local", alias="CUECAST_PUBLISHER")
    gcp_project: str | None = Field(default=None, alias="GOOGLE_CLOUD_PROJECT")
    topic_start_analysis: str = Field(
        default="cuecast-start-analysis", alias="CUECAST_TOPIC_START_ANALYSIS"
    )
    topic_ssml: str = Field(default="cuecast-ssml", alias="CUECAST_TOPIC_SSML")
    topic_audio: str = Field(default="cuecast-audio", alias="CUECAST_TOPIC_AUDIO")

    analyzer: Literal["offline", "gemini"] = Field(default="offline", alias="CUECAST_ANALYZER")
    ssml_writer: Literal["builder", "gemini"] = Field(default="builder", alias="CUECAST_SSML")
    tts: Literal["espeak", "google"] = Field(default="espeak", alias="CUECAST_TTS")
    gemini_api_key: SecretStr | None = Field(default=None, alias="GEMINI_API_KEY")
    gemini_model: str = Field(default="gemini-2.5-flash", alias="CUECAST_GEMINI_MODEL")
    gemini_base_url: str | None = Field(default=None, alias="CUECAST_GEMINI_BASE_URL")
    tts_endpoint: str | None = Field(default=None, alias="CUECAST_TTS_ENDPOINT")

    webhook_secret: SecretStr | None = Field(default=None, alias="WEBHOOK_SECRET")

    max_attempts: int = Field(default=5, ge=1, le=100, alias="CUECAST_MAX_ATTEMPTS")
    lease_seconds: int = Field(default=300, ge=1, alias="CUECAST_LEASE_SECONDS")
    backoff_base_seconds: float = Field(default=2.0, gt=0, alias="CUECAST_BACKOFF_BASE_SECONDS")
    backoff_cap_seconds: float = Field(default=300.0, gt=0, alias="CUECAST_BACKOFF_CAP_SECONDS")
    doorbell_grace_seconds: int = Field(default=60, ge=0, alias="CUECAST_DOORBELL_GRACE_SECONDS")

    voice_name: str = Field(default="en-US-Neural2-D", alias="CUECAST_VOICE_NAME")
    voice_language: str = Field(default="en-US", alias="CUECAST_VOICE_LANGUAGE")
    voice_style: str = Field(default="coach", alias="CUECAST_VOICE_STYLE")

    @field_validator("supabase_service_role_key", "gemini_api_key", "webhook_secret")
    @classmethod
    def _blank_secret_is_missing(cls, value: SecretStr | None) -> SecretStr | None:
        """A blank secret is no secret: it counts as missing, so the function fails at start
        (an empty WEBHOOK_SECRET would otherwise match a request that sends none)."""
        return value if value is not None and value.get_secret_value().strip() else None

    @property
    def storage_dir(self) -> str:
        """Where local storage keeps its buckets."""
        return self.storage_dir_setting or str(Path(self.local_home) / "storage")

    def voice(self) -> Voice:
        return Voice(name=self.voice_name, language=self.voice_language, style=self.voice_style)

    def topic(self, stage: Stage | StageSpec) -> str:
        spec = stage if isinstance(stage, StageSpec) else STAGES[stage]
        return str(getattr(self, spec.topic_setting))

    def required_for(self, function: FunctionSpec) -> list[str]:
        """The fields a function needs under the selected adapters."""
        needed = ["database_url"]
        if function.publishes and self.publisher == "pubsub":
            needed.append("gcp_project")
        uses = function.uses()
        if "storage" in uses and self.storage == "supabase":
            needed += ["supabase_url", "supabase_service_role_key"]
        gemini = ("analyzer" in uses and self.analyzer == "gemini") or (
            "ssml_writer" in uses and self.ssml_writer == "gemini"
        )
        if gemini:
            needed.append("gemini_api_key")
        if "webhook_secret" in function.needs:
            needed.append("webhook_secret")
        return needed

    @classmethod
    def env_names(cls, names: list[str]) -> list[str]:
        """The environment variable names (aliases) of settings fields."""
        return [cls.model_fields[name].alias or name.upper() for name in names]

    def require(self, *names: str, who: str | None = None) -> None:
        """Fail at start, naming every missing variable, when production adapters lack
        settings: the one way cuecast reports a missing setting."""
        missing = sorted(self.env_names([n for n in names if getattr(self, n) in (None, "")]))
        if missing:
            prefix = f"{who} cannot start: missing settings" if who else "missing settings:"
            raise ConfigurationError(f"{prefix} {', '.join(missing)}")


def _environment(cls: type[Settings]) -> dict[str, str]:
    """Each field's variable that the environment sets (matched without regard to case)."""
    present = {name.upper(): value for name, value in os.environ.items()}
    return {
        alias: present[alias.upper()]
        for alias in (f.alias for f in cls.model_fields.values())
        if alias and alias.upper() in present
    }


def _by_alias(cls: type[Settings], values: dict[str, Any]) -> dict[str, Any]:
    """`values` keyed by variable name, so that they replace the environment's."""
    aliases = {name: f.alias for name, f in cls.model_fields.items() if f.alias}
    return {aliases.get(key, key): value for key, value in values.items()}


def load(**values: object) -> Settings:
    """The settings from the environment (and `values`), or a ConfigurationError that says in
    one line which variable is wrong and what it may be."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigurationError("; ".join(_explain(e) for e in exc.errors())) from None


def _explain(error: Any) -> str:
    name = str(error["loc"][0]) if error.get("loc") else "settings"
    field = Settings.model_fields.get(name)
    if field is None:  # pydantic names the alias when the value came from the environment
        field = next((f for f in Settings.model_fields.values() if f.alias == name), None)
    variable = (field.alias if field and field.alias else name).upper()
    given = error.get("input")
    choices = get_args(field.annotation) if field is not None else ()
    if choices and all(isinstance(c, str) for c in choices):
        return f"{variable}={given!r} is not one of: {', '.join(choices)}"
    return f"{variable}={given!r}: {error.get('msg', 'invalid')}"
