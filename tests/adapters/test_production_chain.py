"""The whole chain once on the production adapters, each at its local protocol server.

Settings come from the environment with production values (Supabase Storage, Pub/Sub, Gemini
for analysis and SSML, Cloud Text-to-Speech), the entry points run through functions-framework,
and the database is real. Pub/Sub is an in-process gRPC server, so nothing is delivered by
itself: the test turns each message the fake received into the Pub/Sub CloudEvent Eventarc
would post, and posts it to the function subscribed to that topic, until no message is new.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import functions_framework
import psycopg
import pytest

from shared import bootstrap
from shared.bootstrap import App
from shared.domain import Stage
from shared.messages import PUBSUB_EVENT_TYPE
from shared.settings import Settings
from tests.adapters.servers import (
    FakeGemini,
    FakePubSub,
    FakeSupabaseStorage,
    FakeTextToSpeech,
    json_reply,
    text_reply,
)
from tests.supa import complete_upload, create_user, insert_video, set_webhook_secrets

Conn = psycopg.Connection[tuple[Any, ...]]
SOURCE = str(Path(__file__).resolve().parents[2] / "main.py")
PROJECT = "cuecast-prod-test"
FUNCTIONS = {Stage.ANALYSIS: "start_analysis", Stage.SSML: "ssml", Stage.AUDIO: "audio"}
ITEMS = [
    {
        "timestamp_seconds": 2.5,
        "category": "posture",
        "message": "Keep your back straight.",
        "confidence": 0.9,
        "impact": 0.8,
    },
    {
        "timestamp_seconds": 9,
        "category": "pacing",
        "message": "Slow down before the last step.",
        "confidence": 0.7,
        "impact": 0.5,
    },
]


def production_env(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    fakes: tuple[FakeGemini, FakeTextToSpeech, FakeSupabaseStorage, FakePubSub],
    service_key: str,
) -> str:
    """Set the production settings, pointed at the fakes; returns the webhook secret."""
    gemini, tts, storage, pubsub = fakes
    secret = secrets.token_urlsafe(24)
    env = {
        "DATABASE_URL": db_url,
        "CUECAST_STORAGE": "supabase",
        "SUPABASE_URL": storage.url,
        "SUPABASE_SERVICE_ROLE_KEY": service_key,
        "CUECAST_PUBLISHER": "pubsub",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "PUBSUB_EMULATOR_HOST": pubsub.host,
        "CUECAST_ANALYZER": "gemini",
        "CUECAST_SSML": "gemini",
        "GEMINI_API_KEY": f"fake-gemini-key-{secrets.token_hex(8)}",
        "CUECAST_GEMINI_BASE_URL": gemini.url,
        "CUECAST_TTS": "google",
        "CUECAST_TTS_ENDPOINT": tts.endpoint,
        "WEBHOOK_SECRET": secret,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return secret


@contextmanager
def installed(app: App) -> Iterator[App]:
    """The process's App for the entry points; its clients and pool closed afterwards."""
    previous = bootstrap.install(app)
    try:
        yield app
    finally:
        bootstrap.install(previous)
        for name in ("publisher", "storage", "gemini"):
            if name in app.__dict__:
                app.__dict__[name].close()
        app.close()


def pubsub_event(topic: str, data: bytes, attributes: dict[str, str]) -> dict[str, Any]:
    """A structured Pub/Sub CloudEvent, as Eventarc posts it for a message on `topic`."""
    message_id = uuid.uuid4().hex
    return {
        "specversion": "1.0",
        "id": message_id,
        "source": f"//pubsub.googleapis.com/{topic}",
        "type": PUBSUB_EVENT_TYPE,
        "datacontenttype": "application/json",
        "data": {
            "message": {
                "data": base64.b64encode(data).decode("ascii"),
                "attributes": attributes,
                "messageId": message_id,
            },
            "subscription": f"projects/{PROJECT}/subscriptions/{topic.rsplit('/', 1)[1]}-push",
        },
    }


def one(conn: Conn, query: str, *params: Any) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row


def ring_webhooks(conn: Conn, client: Any) -> int:
    """Post what the database's `net.http_post` stand-in recorded to the webhook function."""
    rows = conn.execute(
        "with taken as (delete from net.http_request_queue returning id, headers, body)"
        " select headers, body from taken order by id"
    ).fetchall()
    for headers, body in rows:
        response = client.post("/", json=body, headers=headers)
        assert response.status_code == 202, response.get_data(as_text=True)
    return len(rows)


def coach_ssml(message: str) -> str:
    """What a well-behaved Gemini answers for the SSML prompt: the same words, marked up."""
    return f'<speak><s><emphasis level="moderate">{escape(message)}</emphasis></s></speak>'


def deliver_published(
    conn: Conn, pubsub: FakePubSub, gemini: FakeGemini, clients: dict[str, Any]
) -> None:
    """Move every message the Pub/Sub fake received to its subscriber, oldest first, until
    nothing new arrives; each delivery must be acknowledged (HTTP 200)."""
    by_topic = {f"projects/{PROJECT}/topics/{Settings().topic(s)}": s for s in FUNCTIONS}
    delivered = 0
    while delivered < len(pubsub.published):
        assert delivered < 50, "the chain does not settle"
        topic, data, attributes = pubsub.published[delivered]
        delivered += 1
        stage = by_topic[topic]
        if stage is Stage.SSML:  # Gemini's answer to this item's SSML prompt
            (message,) = one(
                conn,
                "select message from analysis_feedback where id = %s",
                json.loads(data)["feedback_id"],
            )
            gemini.replies.append(text_reply(coach_ssml(message)))
        response = clients[FUNCTIONS[stage]].post(
            "/",
            json=pubsub_event(topic, data, attributes),
            headers={"Content-Type": "application/cloudevents+json"},
        )
        assert response.status_code == 200, (topic, data, response.get_data(as_text=True))


def upload_video(conn: Conn, storage: FakeSupabaseStorage) -> tuple[uuid.UUID, bytes]:
    """The app's part: the video into bucket `raw`, its row, then the upload completed."""
    user = create_user(conn)
    video = os.urandom(300_000)  # Gemini is a fake: the bytes need not decode
    video_id = insert_video(conn, user)
    (path,) = one(conn, "select storage_path from video_recordings where id = %s", video_id)
    storage.put("raw", path, video, "video/mp4")
    complete_upload(conn, user, video_id)
    return user, video


def test_upload_to_audio_on_every_production_adapter(
    conn: Conn,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    fake_gemini: FakeGemini,
    fake_tts: FakeTextToSpeech,
    fake_supabase: FakeSupabaseStorage,
    fake_pubsub: FakePubSub,
    service_key: str,
) -> None:
    fakes = (fake_gemini, fake_tts, fake_supabase, fake_pubsub)
    secret = production_env(monkeypatch, db_url, fakes, service_key)
    set_webhook_secrets(conn, "https://webhook.invalid/", secret)
    fake_gemini.replies.append(json_reply({"items": ITEMS}))
    user, video = upload_video(conn, fake_supabase)

    with installed(App(Settings())) as app:
        clients = {
            name: functions_framework.create_app(name, SOURCE).test_client()  # type: ignore[no-untyped-call]
            for name in ("webhook", *FUNCTIONS.values())
        }
        assert ring_webhooks(conn, clients["webhook"]) == 1
        deliver_published(conn, fake_pubsub, fake_gemini, clients)

    job_id = check_database(conn)
    check_gemini(fake_gemini, video)
    check_audio(conn, fake_supabase, fake_tts, user, job_id, app.settings.voice_name)
    check_pubsub(conn, fake_pubsub, job_id)


def check_database(conn: Conn) -> int:
    job_id, status, progress = one(
        conn, "select id, status, progress_percentage from analysis_jobs"
    )
    assert (status, progress) == ("completed", 100)
    items = conn.execute(
        "select message, ssml_status, audio_status from analysis_feedback order by item_index"
    ).fetchall()
    assert items == [(i["message"], "completed", "completed") for i in ITEMS]
    providers = conn.execute("select distinct provider from analysis_ssml_segments").fetchall()
    assert providers == [("gemini",)]  # Gemini's SSML passed the checks and was kept
    return int(job_id)


def check_gemini(fake_gemini: FakeGemini, video: bytes) -> None:
    (uploaded,) = fake_gemini.files.values()
    assert bytes(uploaded.data) == video  # streamed from the raw object, byte for byte
    assert uploaded.mime_type == "video/mp4"
    assert fake_gemini.deleted == [uploaded.name]
    assert len(fake_gemini.generate_requests) == 1 + len(ITEMS)  # analysis + SSML per item


def check_audio(
    conn: Conn,
    storage: FakeSupabaseStorage,
    tts: FakeTextToSpeech,
    user: uuid.UUID,
    job_id: int,
    voice_name: str,
) -> None:
    rows = conn.execute(
        "select f.id, a.audio_url, a.format, a.duration_ms, s.ssml"
        " from analysis_audio_segments a"
        " join analysis_feedback f on f.id = a.feedback_id"
        " join analysis_ssml_segments s"
        "   on s.feedback_id = a.feedback_id and s.segment_index = a.segment_index"
        " order by f.item_index, a.segment_index"
    ).fetchall()
    assert len(rows) == len(ITEMS)
    processed = {
        path: obj for (bucket, path), obj in storage.objects.items() if bucket == "processed"
    }
    assert set(processed) == {url for _, url, *_ in rows}  # one object per row, no others
    for feedback_id, url, fmt, duration_ms, _ in rows:
        assert url.startswith(f"{user}/{job_id}/{feedback_id}/")
        assert (processed[url].content_type, processed[url].data) == ("audio/mpeg", tts.audio)
        assert fmt == "mp3"
        assert abs(duration_ms - 1500) <= 100  # the fake's MP3 is a 1.5 s tone
    assert [body["input"]["ssml"] for body in tts.bodies] == [ssml for *_, ssml in rows]
    for body in tts.bodies:
        assert body["voice"]["name"] == voice_name
        assert body["audioConfig"]["audioEncoding"] == "MP3"


def check_pubsub(conn: Conn, fake_pubsub: FakePubSub, job_id: int) -> None:
    settings = Settings()
    feedback_ids = [row[0] for row in conn.execute("select id from analysis_feedback order by id")]

    def topic(stage: Stage) -> str:
        return f"projects/{PROJECT}/topics/{settings.topic(stage)}"

    expected = [(topic(Stage.ANALYSIS), {"analysis_job_id": job_id})]
    expected += [(topic(Stage.SSML), {"feedback_id": fid}) for fid in feedback_ids]
    expected += [(topic(Stage.AUDIO), {"feedback_id": fid}) for fid in feedback_ids]
    assert [(t, json.loads(data)) for t, data, _ in fake_pubsub.published] == expected
