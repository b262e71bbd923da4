"""The one place that builds real adapters from settings.

Nothing is built at import time. The first invocation of a function builds the process's
`App` (pool and clients are then reused across invocations, as Cloud Functions intends) and
checks that the settings the function needs are present, naming any that are missing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool

from shared import logs
from shared.db import Database
from shared.domain import Stage
from shared.errors import ConfigurationError
from shared.pool import make_pool
from shared.ports import Analyzer, Publisher, SpeechSynthesizer, SsmlWriter, Storage
from shared.queue import QueuePolicy
from shared.services import runner
from shared.services.runner import Outcome, StageWork
from shared.settings import Settings, load
from shared.stages import FUNCTIONS, STAGES


class TopicGuard:
    """A function's publisher: it may publish only to the topics its function names."""

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
    """Settings plus lazily built adapters and stages. Any adapter may be given instead (the
    local runtime, the tests and the benchmarks do); a given one is the caller's to close."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        pool: ConnectionPool[Any] | None = None,
        storage: Storage | None = None,
        analyzer: Analyzer | None = None,
        ssml_writer: SsmlWriter | None = None,
        synthesizer: SpeechSynthesizer | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        self.settings = settings or load()
        given = {
            "pool": pool,
            "storage": storage,
            "analyzer": analyzer,
            "ssml_writer": ssml_writer,
            "synthesizer": synthesizer,
            "publisher": publisher,
        }
        self._given = {name for name, value in given.items() if value is not None}
        for name in self._given:
            setattr(self, name, given[name])  # overrides the cached_property of the same name

    def check(self, *functions: str) -> None:
        """Fail at start (every function when none is named), naming the first setting or
        credential a function needs and lacks: its settings are required, then the
        providers it uses are built, which is where a missing credential shows."""
        for function in functions or tuple(FUNCTIONS):
            spec = FUNCTIONS[function]
            self.settings.require(*self.settings.required_for(spec), who=function)
            for provider in sorted(spec.needs - {"webhook_secret"}):
                try:
                    getattr(self, provider)
                except ConfigurationError as exc:
                    raise ConfigurationError(f"{function} cannot start: {exc}") from None

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
        self.settings.require("database_url")
        assert self.settings.database_url
        return make_pool(
            self.settings.database_url,
            max_size=self.settings.db_pool_max_size,
            statement_timeout_ms=self.settings.statement_timeout_ms,
        )

    @cached_property
    def database(self) -> Database:
        return Database(self.pool)

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

    def stage(self, stage: Stage) -> StageWork[Any, Any]:
        """The stage's work, built once per App on first use."""
        built: dict[Stage, StageWork[Any, Any]] = self.__dict__.setdefault("_stages", {})
        if stage not in built:
            built[stage] = self._build(stage)
        return built[stage]

    def _build(self, stage: Stage) -> StageWork[Any, Any]:
        spec, voice = STAGES[stage], self.settings.voice()
        if stage is Stage.AUDIO:  # the last stage publishes nothing: no publisher to build
            from shared.services.audio import AudioStage

            return AudioStage(
                storage=self.storage, synthesizer=self.synthesizer, default_voice=voice
            )
        assert spec.next is not None
        publisher, following = self.publisher_for(spec.function), self.settings.topic(spec.next)
        if stage is Stage.ANALYSIS:
            from shared.services.analysis import AnalysisStage

            return AnalysisStage(
                storage=self.storage,
                analyzer=self.analyzer,
                publisher=publisher,
                default_voice=voice,
                topic=following,
            )
        from shared.services.ssml import SsmlStage

        return SsmlStage(
            writer=self.ssml_writer, publisher=publisher, default_voice=voice, topic=following
        )

    def run(self, stage: Stage, key: int) -> Outcome:
        """Run the job for `key` in `stage` (what an entry point does with a doorbell)."""
        return runner.run(self.database, self.stage(stage), key, self.policy, self.settings.voice())

    def topics(self) -> dict[Stage, str]:
        return {stage: self.settings.topic(stage) for stage in Stage}

    def close(self) -> None:
        """Close what this App built (a given adapter belongs to whoever gave it)."""
        if "pool" in self.__dict__ and "pool" not in self._given:
            self.pool.close()
        publisher = self.__dict__.get("publisher")
        if publisher is not None and "publisher" not in self._given:
            close = getattr(publisher, "close", None)
            if callable(close):
                close()


log = logging.getLogger("cuecast.functions")
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


def start(function: str) -> None:
    """At the function's start (main.py, as functions-framework loads it): build the App and
    check `function`'s settings and credentials, or log the one line that says what is
    missing and exit, so the revision fails to start instead of failing every delivery."""
    try:
        get_app(function)
    except ConfigurationError as exc:
        logs.configure()
        log.error("%s", exc, extra={"function": function})
        raise SystemExit(1) from None


def install(app: App | None) -> App | None:
    """Replace the process's App (local runtime and tests); returns the previous one."""
    global _app
    with _lock:
        previous, _app = _app, app
        _checked.clear()
        return previous
