"""The one place that builds real adapters from settings.

Nothing is built at import time. The first invocation of a function builds the process's
`App` (pool and clients are then reused across invocations, as Cloud Functions intends) and
checks that the settings the function needs are present, naming any that are missing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool

from shared import logs
from shared.database import make_pool
from shared.domain import Stage
from shared.errors import ConfigurationError
from shared.ports import Analyzer, Publisher, SpeechSynthesizer, SsmlWriter, Storage
from shared.queue import QueuePolicy
from shared.services.analysis import AnalysisStage
from shared.services.audio import AudioStage
from shared.services.ssml import SsmlStage
from shared.settings import Settings
from shared.topology import FUNCTIONS, env_names, required_settings


class TopicGuard:
    """A function's publisher: it may publish only to the topics its topology names."""

    def __init__(self, inner: Publisher, allowed: set[str], function: str) -> None:
        self.inner, self.allowed, self.function = inner, allowed, function

    def publish(
        self,
        topic: str,
        messages: Sequence[Mapping[str, object]],
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        if topic not in self.allowed:
            raise ConfigurationError(f"{self.function} may not publish to {topic!r}")
        self.inner.publish(topic, messages, attributes)


class App:
    """Settings plus lazily built adapters and stages; any adapter may be given instead."""

    def __init__(self, settings: Settings | None = None, **given: Any) -> None:
        self.settings = settings or Settings()
        self._given = set(given)
        for name, value in given.items():
            setattr(self, name, value)  # overrides the cached_property of the same name

    def check(self, function: str) -> None:
        missing = [
            name
            for name in required_settings(self.settings, FUNCTIONS[function])
            if getattr(self.settings, name) in (None, "")
        ]
        if missing:
            raise ConfigurationError(
                f"{function} cannot start: missing settings {', '.join(env_names(missing))}"
            )

    @cached_property
    def policy(self) -> QueuePolicy:
        s = self.settings
        return QueuePolicy(
            max_attempts=s.max_attempts,
            lease_seconds=s.lease_seconds,
            backoff_base_seconds=s.backoff_base_seconds,
            backoff_cap_seconds=s.backoff_cap_seconds,
            doorbell_grace_seconds=s.doorbell_grace_seconds,
        )

    @cached_property
    def pool(self) -> ConnectionPool[Any]:
        if not self.settings.database_url:
            raise ConfigurationError("missing settings: DATABASE_URL")
        return make_pool(
            self.settings.database_url,
            max_size=self.settings.db_pool_max_size,
            statement_timeout_ms=self.settings.statement_timeout_ms,
        )

    @cached_property
    def storage(self) -> Storage:
        s = self.settings
        if s.storage == "supabase":
            from shared.adapters.supabase_storage import SupabaseStorage

            s.require("supabase_url", "supabase_service_role_key")
            assert s.supabase_url and s.supabase_service_role_key
            return SupabaseStorage(s.supabase_url, s.supabase_service_role_key.get_secret_value())
        from shared.adapters.local_storage import LocalStorage

        return LocalStorage(Path(s.storage_dir))

    @cached_property
    def gemini(self) -> Any:
        from shared.adapters.gemini import make_gemini_client

        self.settings.require("gemini_api_key")
        assert self.settings.gemini_api_key
        key = self.settings.gemini_api_key.get_secret_value()
        return make_gemini_client(key, base_url=self.settings.gemini_base_url)

    @cached_property
    def analyzer(self) -> Analyzer:
        if self.settings.analyzer == "gemini":
            from shared.adapters.gemini import GeminiAnalyzer

            return GeminiAnalyzer(self.gemini, self.settings.gemini_model)
        from shared.adapters.offline_analyzer import OfflineAnalyzer

        return OfflineAnalyzer()

    @cached_property
    def ssml_writer(self) -> SsmlWriter:
        from shared.adapters.ssml_builder import SsmlBuilder

        if self.settings.ssml_writer == "gemini":
            from shared.adapters.gemini_ssml import GeminiSsmlWriter

            return GeminiSsmlWriter(self.gemini, self.settings.gemini_model, SsmlBuilder())
        return SsmlBuilder()

    @cached_property
    def synthesizer(self) -> SpeechSynthesizer:
        if self.settings.tts == "google":
            from shared.adapters.google_tts import GoogleSynthesizer, make_tts_client

            return GoogleSynthesizer(make_tts_client(self.settings.tts_endpoint))
        from shared.adapters.espeak import EspeakSynthesizer

        return EspeakSynthesizer()

    @cached_property
    def publisher(self) -> Publisher:
        if self.settings.publisher == "pubsub":
            from shared.adapters.pubsub import PubSubPublisher

            self.settings.require("gcp_project")
            assert self.settings.gcp_project
            return PubSubPublisher(self.settings.gcp_project)
        from shared.adapters.local_pubsub import LocalPubSub

        return LocalPubSub()

    def publisher_for(self, function: str) -> Publisher:
        allowed = {self.settings.topic(stage) for stage in FUNCTIONS[function].publishes}
        return TopicGuard(self.publisher, allowed, function)

    @cached_property
    def analysis_stage(self) -> AnalysisStage:
        return AnalysisStage(
            pool=self.pool,
            storage=self.storage,
            analyzer=self.analyzer,
            publisher=self.publisher_for("start_analysis"),
            policy=self.policy,
            voice=self.settings.voice(),
            topic=self.settings.topic(Stage.SSML),
        )

    @cached_property
    def ssml_stage(self) -> SsmlStage:
        return SsmlStage(
            pool=self.pool,
            writer=self.ssml_writer,
            publisher=self.publisher_for("ssml"),
            policy=self.policy,
            default_voice=self.settings.voice(),
            topic=self.settings.topic(Stage.AUDIO),
        )

    @cached_property
    def audio_stage(self) -> AudioStage:
        return AudioStage(
            pool=self.pool,
            storage=self.storage,
            synthesizer=self.synthesizer,
            policy=self.policy,
            default_voice=self.settings.voice(),
        )

    def topics(self) -> dict[Stage, str]:
        return {stage: self.settings.topic(stage) for stage in Stage}

    def close(self) -> None:
        """Close what this App built (a given adapter belongs to whoever gave it)."""
        if "pool" in self.__dict__:
            self.pool.close()
        publisher = self.__dict__.get("publisher")
        if publisher is not None and "publisher" not in self._given:
            close = getattr(publisher, "close", None)
            if callable(close):
                close()


_lock = threading.Lock()
_app: App | None = None
_checked: set[str] = set()


def get_app(function: str) -> App:
    """The process's App, built on first use; settings checked once per function."""
    global _app  # noqa: PLW0603 - one App per process is the point
    with _lock:
        if _app is None:
            logs.configure()
            _app = App()
        if function not in _checked:
            _app.check(function)
            _checked.add(function)
        return _app


def install(app: App | None) -> App | None:
    """Replace the process's App (local runtime and tests); returns the previous one."""
    global _app
    with _lock:
        previous, _app = _app, app
        _checked.clear()
        return previous
