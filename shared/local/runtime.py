"""The local runtime: the five entry points served by functions-framework, fed by the local
Pub/Sub bus and by the local webhook step, on one machine with no cloud account.

- Each function is a functions-framework app built from `main.py`, exactly as Cloud Run
  builds it; `transport="inprocess"` calls it through its WSGI test client, `transport="http"`
  serves it on loopback (one port per function) and posts to it over HTTP.
- `workers` threads take due messages from the bus and push them as Pub/Sub CloudEvents; a
  non-2xx answer is a nack (redelivery with backoff, then the dead-letter list).
- The webhook step stands in for pg_net: it takes what the `net.http_post` stand-in recorded
  and posts it, with its headers, to the `webhook` function.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import functions_framework
import httpx
from werkzeug.serving import BaseWSGIServer, make_server

from shared import bootstrap
from shared.adapters.local_pubsub import LocalPubSub
from shared.bootstrap import App
from shared.settings import Secret, Settings
from shared.stages import FUNCTIONS

log = logging.getLogger("cuecast.local")

LOCAL_WEBHOOK_URL = "http://127.0.0.1/webhook"  # in-process: the webhook step routes by name
SECRET_FILE = "webhook-secret"  # noqa: S105 - a file name; under CUECAST_HOME: this checkout's secret when none is set
PUSH_DEADLINE_S = 600.0  # Pub/Sub's longest push acknowledgement deadline
Post = Callable[[dict[str, str], bytes], int]  # (headers, body) → HTTP status
Push = Callable[[dict[str, str], bytes], bool]  # (headers, body) → acknowledged


def main_source() -> str:
    """Path of `main.py`, the module Cloud Functions loads."""
    spec = importlib.util.find_spec("main")
    if spec is None or spec.origin is None:
        raise RuntimeError("main.py is not importable: install cuecast (pip install -e .)")
    return spec.origin


@dataclass
class Endpoint:
    name: str
    post: Post
    url: str | None = None  # set for the http transport


def _inprocess(name: str, source: str) -> Endpoint:
    flask_app = functions_framework.create_app(name, source)  # type: ignore[no-untyped-call]
    client = flask_app.test_client()

    def post(headers: dict[str, str], body: bytes) -> int:
        return int(client.post("/", data=body, headers=headers).status_code)

    return Endpoint(name, post)


class LocalRuntime:
    """Start with `with LocalRuntime(app) as runtime:`; the App is installed as the process's
    App for the duration, so the entry points use its adapters (and its bus)."""

    def __init__(
        self,
        app: App,
        *,
        workers: int = 4,
        transport: str = "inprocess",
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        webhook_poll_s: float = 0.1,
        wrap_push: Callable[[str, Push], Push] | None = None,
    ) -> None:
        if not isinstance(app.publisher, LocalPubSub):
            raise TypeError("the local runtime needs the local Pub/Sub publisher")
        self.app, self.bus = app, app.publisher
        self.workers, self.transport = workers, transport
        self.host, self.ports = host, ports or {}
        self.webhook_poll_s = webhook_poll_s
        self.wrap_push = wrap_push  # (function name, push) → push: fault injection in tests
        self.endpoints: dict[str, Endpoint] = {}
        self._servers: list[BaseWSGIServer] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._previous: App | None = None
        self._http = httpx.Client(timeout=PUSH_DEADLINE_S)

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.app.check()  # every function's settings and credentials, before anything runs
        self._previous = bootstrap.install(self.app)
        source = main_source()
        for name in FUNCTIONS:
            self.endpoints[name] = (
                self._serve(name, source) if self.transport == "http" else _inprocess(name, source)
            )
        self._point_webhook_trigger()
        for name, spec in FUNCTIONS.items():
            if spec.trigger is not None:  # a Pub/Sub-triggered function: its topic pushes to it
                self.bus.subscribe(self.app.settings.topic(spec.trigger), self._pusher(name))
        for i in range(self.workers):
            self._spawn(f"cuecast-delivery-{i}", self._deliver_forever)
        self._spawn("cuecast-webhook-step", self._relay_webhooks_forever)

    def stop(self) -> None:
        self._stop.set()
        for server in self._servers:
            server.shutdown()
        for thread in self._threads:
            thread.join(timeout=30)
        self._http.close()
        bootstrap.install(self._previous)

    def _point_webhook_trigger(self) -> None:
        """The Vault stand-in gets this runtime's webhook URL and secret, so the upload
        trigger always rings a webhook that accepts it."""
        secret = self.app.settings.webhook_secret
        assert secret is not None  # app.check() required it
        self.app.database.set_local_secrets(
            {
                "cuecast_webhook_url": self.endpoints["webhook"].url or LOCAL_WEBHOOK_URL,
                "cuecast_webhook_secret": secret.get_secret_value(),
            }
        )

    def call(self, name: str, headers: dict[str, str], body: bytes) -> int:
        return self.endpoints[name].post(headers, body)

    def ring_webhooks(self) -> int:
        """The local webhook step, once: post every recorded `net.http_post` request to the
        `webhook` function. Returns how many were sent."""
        rows = self.app.database.take_webhook_requests()
        for headers, body in rows:
            status = self.call("webhook", headers, json.dumps(body).encode())
            if not 200 <= status < 300:  # pg_net does not retry; the reconciler will
                log.warning("webhook step: the webhook answered", extra={"status": status})
        return len(rows)

    def _serve(self, name: str, source: str) -> Endpoint:
        flask_app = functions_framework.create_app(name, source)  # type: ignore[no-untyped-call]
        server = make_server(self.host, self.ports.get(name, 0), flask_app, threaded=True)
        self._servers.append(server)
        self._spawn(f"cuecast-http-{name}", server.serve_forever)
        url = f"http://{self.host}:{server.server_port}/"

        def post(headers: dict[str, str], body: bytes) -> int:
            return self._http.post(url, content=body, headers=headers).status_code

        return Endpoint(name, post, url)

    def _pusher(self, name: str) -> Push:
        def push(headers: dict[str, str], body: bytes) -> bool:
            return 200 <= self.call(name, headers, body) < 300  # Pub/Sub push: 2xx acks

        return self.wrap_push(name, push) if self.wrap_push else push

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _deliver_forever(self) -> None:
        while not self._stop.is_set():
            self.bus.deliver_one(timeout=0.1)

    def _relay_webhooks_forever(self) -> None:
        while not self._stop.wait(self.webhook_poll_s):
            try:
                self.ring_webhooks()
            except Exception:
                log.exception("webhook step failed; retrying")


def local_secret_path(settings: Settings) -> Path:
    return Path(settings.local_home) / SECRET_FILE


def with_local_secret(settings: Settings) -> Settings:
    """A local run's settings: WEBHOOK_SECRET if set, else this checkout's own secret, made
    once and kept owner-only under CUECAST_HOME, so every local command (and a curl that
    reads the file) agrees with the webhook."""
    if settings.webhook_secret is not None:
        return settings
    path = local_secret_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(32))
    secret = Secret(path.read_text(encoding="utf-8").strip())
    return settings.copy(webhook_secret=secret)


def adapter_choices(settings: Settings) -> list[tuple[str, str]]:
    """What each port is bound to under `settings`, in words, for the start-up report."""
    s = settings
    storage = (
        f"Supabase Storage at {s.supabase_url}"
        if s.storage == "supabase"
        else f"local directory {s.storage_dir}"
    )
    publisher = (
        f"Google Pub/Sub, project {s.gcp_project}"
        if s.publisher == "pubsub"
        else "local Pub/Sub (real CloudEvents through functions-framework)"
    )
    analyzer = (
        f"Gemini {s.gemini_model}" if s.analyzer == "gemini" else "offline (PyAV signal analysis)"
    )
    ssml = f"Gemini {s.gemini_model}, builder fallback" if s.ssml_writer == "gemini" else "builder"
    tts = "Google Cloud Text-to-Speech" if s.tts == "google" else "eSpeak NG (espeakng-loader)"
    return [
        ("storage", storage),
        ("publisher", publisher),
        ("analyzer", analyzer),
        ("ssml", ssml),
        ("tts", tts),
    ]
