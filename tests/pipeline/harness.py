"""The real pipeline, in-process: functions-framework apps for every entry point, fed real
Pub/Sub CloudEvents by the local Pub/Sub bus, on a real database and local storage."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import functions_framework
import psycopg

from shared import bootstrap
from shared.adapters.local_pubsub import LocalPubSub
from shared.adapters.local_storage import LocalStorage
from shared.bootstrap import App
from shared.db import local
from shared.domain import Stage
from shared.settings import Settings

SOURCE = str(Path(__file__).resolve().parents[2] / "main.py")
WORKERS = {Stage.ANALYSIS: "start_analysis", Stage.SSML: "ssml", Stage.AUDIO: "audio"}


@dataclass
class Pipeline:
    app: App
    bus: LocalPubSub
    clients: dict[str, Any]
    secret: str
    storage: LocalStorage

    def ring_webhooks(self, conn: psycopg.Connection[Any]) -> int:
        """The local webhook step: replay what the net.http_post stand-in recorded."""
        rows = local.take_webhook_requests(conn)
        for headers, body in rows:
            response = self.clients["webhook"].post("/", json=body, headers=headers)
            assert response.status_code == 202, response.get_data(as_text=True)
        return len(rows)


def _pusher(client: Any) -> Any:
    def push(headers: dict[str, str], body: bytes) -> bool:
        return bool(client.post("/", data=body, headers=headers).status_code == 200)

    return push


@contextmanager
def pipeline(db_url: str, tmp_path: Path, **settings: Any) -> Iterator[Pipeline]:
    secret = secrets.token_urlsafe(24)
    config = Settings(
        DATABASE_URL=db_url,
        CUECAST_STORAGE_DIR=str(tmp_path / "storage"),
        WEBHOOK_SECRET=secret,
        CUECAST_BACKOFF_BASE_SECONDS=0.05,
        CUECAST_BACKOFF_CAP_SECONDS=0.2,
        **settings,
    )
    bus = LocalPubSub(min_backoff_s=0.05, max_backoff_s=0.3)
    storage = LocalStorage(Path(config.storage_dir))
    app = App(config, publisher=bus, storage=storage)
    previous = bootstrap.install(app)
    clients = {
        name: functions_framework.create_app(name, SOURCE).test_client()
        for name in ("start_analysis", "ssml", "audio", "webhook", "reconcile")
    }
    for stage, name in WORKERS.items():
        bus.subscribe(config.topic(stage), _pusher(clients[name]))
    try:
        yield Pipeline(app, bus, clients, secret, storage)
    finally:
        bootstrap.install(previous)
        app.close()
