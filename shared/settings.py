"""Settings from the environment, each field declared once with its variable, default and
bounds. Every variable is documented in docs/settings.md (a test compares).

`Settings()` reads each field's variable (in any case) from the environment, and keyword
arguments (by field or variable name) win over it; `Settings.from_values(values)` reads only
`values`. A wrong value is a ConfigurationError that names the variable and what it may be.
This is plain Python, not pydantic: pydantic's import alone was 60 ms of the webhook's and
the reconciler's 0.53 s cold start, and neither needs it otherwise (bench/README.md,
"Cold starts").

Adapters are chosen by settings alone: the defaults run everything offline; the production
values select Gemini, Cloud Text-to-Speech, Supabase Storage and Pub/Sub. What a function
needs under the chosen adapters (`required_for`) and the one way a missing setting is
reported (`require`) are here too.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

from shared.domain import Stage, Voice
from shared.errors import ConfigurationError
from shared.stages import STAGES, FunctionSpec, StageSpec


class Secret:
    """A secret setting's value: its repr and str (what a log line or a traceback shows) are
    stars."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def setting(variable: str, default: Any = None, *, at_least: float | None = None,
            above: float | None = None, at_most: float | None = None) -> Any:  # fmt: skip
    """A field read from `variable`; numbers may be bounded (inclusive `at_least` and
    `at_most`, exclusive `above`)."""
    bounds = {"at_least": at_least, "above": above, "at_most": at_most}
    return dataclasses.field(default=default, metadata={"variable": variable, **bounds})


@dataclasses.dataclass(init=False)
class Settings:
    database_url: str | None = setting("DATABASE_URL")
    # Local runs only: the project-local folder (embedded Postgres data, sample video, logs)
    # and the server tried when DATABASE_URL is unset.
    local_home: str = setting("CUECAST_HOME", ".cuecast")
    local_database_url: str = setting(
        "CUECAST_LOCAL_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    db_pool_max_size: int = setting("CUECAST_DB_POOL_MAX_SIZE", 4, at_least=1)
    statement_timeout_ms: int = setting("CUECAST_STATEMENT_TIMEOUT_MS", 30_000, at_least=0)

    storage: Literal["local", "supabase"] = setting("CUECAST_STORAGE", "local")
    # Unset: <CUECAST_HOME>/storage, so CUECAST_HOME moves everything local under it.
    storage_dir_setting: str | None = setting("CUECAST_STORAGE_DIR")
    supabase_url: str | None = setting("SUPABASE_URL")
    supabase_service_role_key: Secret | None = setting("SUPABASE_SERVICE_ROLE_KEY")

    publisher: Literal["local", "pubsub"] = setting("CUECAST_PUBLISHER", "local")
    gcp_project: str | None = setting("GOOGLE_CLOUD_PROJECT")
    topic_start_analysis: str = setting("CUECAST_TOPIC_START_ANALYSIS", "cuecast-start-analysis")
    topic_ssml: str = setting("CUECAST_TOPIC_SSML", "cuecast-ssml")
    topic_audio: str = setting("CUECAST_TOPIC_AUDIO", "cuecast-audio")

    analyzer: Literal["offline", "gemini"] = setting("CUECAST_ANALYZER", "offline")
    ssml_writer: Literal["builder", "gemini"] = setting("CUECAST_SSML", "builder")
    tts: Literal["espeak", "google"] = setting("CUECAST_TTS", "espeak")
    gemini_api_key: Secret | None = setting("GEMINI_API_KEY")
    gemini_model: str = setting("CUECAST_GEMINI_MODEL", "gemini-2.5-flash")
    gemini_base_url: str | None = setting("CUECAST_GEMINI_BASE_URL")
    tts_endpoint: str | None = setting("CUECAST_TTS_ENDPOINT")

    webhook_secret: Secret | None = setting("WEBHOOK_SECRET")

    max_attempts: int = setting("CUECAST_MAX_ATTEMPTS", 5, at_least=1, at_most=100)
    lease_seconds: int = setting("CUECAST_LEASE_SECONDS", 300, at_least=1)
    backoff_base_seconds: float = setting("CUECAST_BACKOFF_BASE_SECONDS", 2.0, above=0)
    backoff_cap_seconds: float = setting("CUECAST_BACKOFF_CAP_SECONDS", 300.0, above=0)
    doorbell_grace_seconds: int = setting("CUECAST_DOORBELL_GRACE_SECONDS", 60, at_least=0)

    voice_name: str = setting("CUECAST_VOICE_NAME", "en-US-Neural2-D")
    voice_language: str = setting("CUECAST_VOICE_LANGUAGE", "en-US")
    voice_style: str = setting("CUECAST_VOICE_STYLE", "coach")

    def __init__(self, **values: Any) -> None:
        """The environment's values, then `values` (by field or variable name) over them."""
        present = {name.upper(): value for name, value in os.environ.items()}
        given = {f.variable: present[f.variable] for f in fields() if f.variable in present}
        self._set({**given, **_by_variable(values)})

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from `values` alone (by field or variable name): no environment."""
        settings = cls.__new__(cls)
        settings._set(_by_variable(dict(values)))
        return settings

    def _set(self, raw: dict[str, Any]) -> None:
        problems = []
        for f in fields():
            try:
                setattr(self, f.name, f.parse(raw[f.variable]) if f.variable in raw else f.default)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigurationError("; ".join(problems))

    def copy(self, **update: Any) -> Settings:
        """These settings with some fields replaced (by field name, not checked)."""
        changed = copy.copy(self)
        for name, value in update.items():
            setattr(changed, name, value)
        return changed

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
        """The environment variable names of settings fields."""
        return [field(name).variable for name in names]

    def require(self, *names: str, who: str | None = None) -> None:
        """Fail at start, naming every missing variable, when production adapters lack
        settings: the one way cuecast reports a missing setting."""
        missing = sorted(self.env_names([n for n in names if getattr(self, n) in (None, "")]))
        if missing:
            prefix = f"{who} cannot start: missing settings" if who else "missing settings:"
            raise ConfigurationError(f"{prefix} {', '.join(missing)}")


@dataclasses.dataclass(frozen=True)
class Field:
    """One setting: its field, its variable, its default, what it accepts."""

    name: str
    variable: str
    default: Any
    kind: type  # str, int, float or Secret
    optional: bool  # None is a value (unset)
    choices: tuple[str, ...]  # a selector's values
    at_least: float | None
    above: float | None
    at_most: float | None

    @property
    def secret(self) -> bool:
        return self.kind is Secret

    def parse(self, value: Any) -> Any:
        """`value` (text from the environment, or a Python value) as this field's, or a
        ValueError that says in one line what the variable may be."""
        if value is None and self.optional:
            return None
        if self.choices:
            if value not in self.choices:
                raise ValueError(
                    f"{self.variable}={value!r} is not one of: {', '.join(self.choices)}"
                )
            return value
        if self.kind is Secret:
            text = value.get_secret_value() if isinstance(value, Secret) else value
            if not isinstance(text, str):
                raise ValueError(f"{self.variable}: expected text")
            # A blank secret is no secret: it counts as missing, so the function fails at
            # start (an empty WEBHOOK_SECRET would otherwise match a request that sends none).
            return Secret(text) if text.strip() else None
        if self.kind is str:
            if not isinstance(value, str):
                raise ValueError(f"{self.variable}={value!r}: expected text")
            return value
        return self._number(value)

    def _number(self, value: Any) -> int | float:
        whole = self.kind is int
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise TypeError
            number = int(value) if whole and not isinstance(value, float) else float(value)
            if whole and number != int(number):
                raise ValueError
            number = int(number) if whole else number
        except (TypeError, ValueError):
            kind = "a whole number" if whole else "a number"
            raise ValueError(f"{self.variable}={value!r}: expected {kind}") from None
        if self.at_least is not None and number < self.at_least:
            raise ValueError(f"{self.variable}={value!r}: must be at least {self.at_least:g}")
        if self.above is not None and number <= self.above:
            raise ValueError(f"{self.variable}={value!r}: must be more than {self.above:g}")
        if self.at_most is not None and number > self.at_most:
            raise ValueError(f"{self.variable}={value!r}: must be at most {self.at_most:g}")
        return number


@cache
def fields() -> tuple[Field, ...]:
    """Every setting, in declaration order (read once from the dataclass's annotations)."""
    hints = typing.get_type_hints(Settings)
    declared = []
    for f in dataclasses.fields(Settings):
        hint = hints[f.name]
        args = typing.get_args(hint)  # X | None: (X, NoneType); Literal[...]: its values
        literal = typing.get_origin(hint) is Literal
        declared.append(
            Field(
                name=f.name,
                variable=f.metadata["variable"],
                default=f.default,
                kind=str if literal else next(k for k in args or (hint,) if k is not type(None)),
                optional=type(None) in args,
                choices=args if literal else (),
                at_least=f.metadata["at_least"],
                above=f.metadata["above"],
                at_most=f.metadata["at_most"],
            )
        )
    return tuple(declared)


def field(name: str) -> Field:
    """The setting of field `name`."""
    return next(f for f in fields() if f.name == name)


def _by_variable(values: dict[str, Any]) -> dict[str, Any]:
    """`values` keyed by variable name (given by field or variable name, in any case)."""
    variables = {f.name: f.variable for f in fields()} | {f.variable: f.variable for f in fields()}
    by_upper = {name.upper(): variable for name, variable in variables.items()}
    known = {key: variables.get(key) or by_upper.get(key.upper()) for key in values}
    return {variable: values[key] for key, variable in known.items() if variable}


def load(**values: object) -> Settings:
    """The settings from the environment (and `values`), or a ConfigurationError that says in
    one line which variable is wrong and what it may be."""
    return Settings(**values)
