"""GeminiAnalyzer through google-genai's real HTTP transport, at a local Files API/Gemini."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator

import pytest
from google import genai

from shared.adapters.gemini import GeminiAnalyzer, make_gemini_client
from shared.adapters.supabase_storage import SupabaseStorage
from shared.domain import Analysis, FeedbackItem, Voice
from shared.errors import ConfigurationError, PermanentError, TransientError
from tests.adapters.servers import (
    FakeGemini,
    FakeSupabaseStorage,
    error_reply,
    json_reply,
    text_reply,
)

VOICE = Voice(name="en-US-Neural2-D", language="en-US", style="coach")
MODEL = "gemini-test-model"
ITEMS = {
    "items": [
        {
            "timestamp_seconds": 7,
            "category": "technique",
            "message": "Keep your elbows in.",
            "confidence": 0.9,
            "impact": 0.7,
        },
        {
            "timestamp_seconds": 11.5,
            "category": " posture ",
            "message": "Nice straight back!",
            "confidence": 0.6,
            "impact": 0.4,
            "extra": "ignored",
        },
    ]
}


@pytest.fixture
def client(fake_gemini: FakeGemini) -> Iterator[genai.Client]:
    client = make_gemini_client(
        f"fake-key-{secrets.token_hex(8)}",
        base_url=fake_gemini.url,
        timeout_s=10,
        retry_attempts=2,
        retry_initial_delay_s=0.01,
        retry_max_delay_s=0.02,
        retry_jitter_s=0,
    )
    yield client
    client.close()


def analyzer(client: genai.Client, **kwargs: float) -> GeminiAnalyzer:
    return GeminiAnalyzer(
        client,
        MODEL,
        poll_interval=kwargs.get("poll", 0.01),
        active_timeout=kwargs.get("timeout", 2),
    )


def analyze(client: genai.Client, video: bytes, **kwargs: float) -> Analysis:
    stream = io.BytesIO(video)
    return analyzer(client, **kwargs).analyze(
        stream, size=len(video), content_type="video/mp4", voice=VOICE
    )


def test_uploads_streams_waits_and_validates(fake_gemini: FakeGemini, client: genai.Client) -> None:
    fake_gemini.processing_polls = 2
    fake_gemini.replies.append(json_reply(ITEMS))
    video = os.urandom(300_000)

    analysis = analyze(client, video)

    assert analysis.items == (
        FeedbackItem(7.0, "technique", "Keep your elbows in.", 0.9, 0.7),
        FeedbackItem(11.5, "posture", "Nice straight back!", 0.6, 0.4),
    )
    assert (analysis.provider, analysis.model, analysis.duration_seconds) == ("gemini", MODEL, 12.5)
    (uploaded,) = fake_gemini.files.values()
    assert bytes(uploaded.data) == video
    assert (uploaded.mime_type, uploaded.declared_size) == ("video/mp4", len(video))
    assert uploaded.polls == 3  # PROCESSING, PROCESSING, ACTIVE
    assert fake_gemini.deleted == [uploaded.name]

    (request,) = fake_gemini.generate_requests
    config = request["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    item = schema["properties"]["items"]["items"]
    assert set(item["properties"]) == {
        "timestamp_seconds",
        "category",
        "message",
        "confidence",
        "impact",
    }
    assert set(item["required"]) == set(item["properties"])
    assert item["properties"]["confidence"]["maximum"] == 1
    parts = request["contents"][0]["parts"]
    file_data = parts[0]["fileData"]  # the SDK sends proto JSON's snake_case names here
    assert file_data.get("fileUri", file_data.get("file_uri")).endswith(uploaded.name)
    assert "en-US" in parts[1]["text"]
    assert f"models/{MODEL}:generateContent" in fake_gemini.requests[-2][1]


def test_a_storage_stream_is_uploaded_in_chunks(
    fake_gemini: FakeGemini,
    fake_supabase: FakeSupabaseStorage,
    service_key: str,
    client: genai.Client,
) -> None:
    """The production path: Supabase Range reads feed the resumable upload, 8 MiB a request."""
    size = 20 * 1024 * 1024 + 123
    fake_supabase.put_generated("raw", "user/clip.mp4", size)
    fake_gemini.replies.append(json_reply({"items": []}))
    storage = SupabaseStorage(fake_supabase.url, service_key)
    with storage.open_read("raw", "user/clip.mp4") as video:
        analysis = analyzer(client).analyze(video, size=size, content_type="video/mp4", voice=VOICE)
    storage.close()
    assert analysis.items == ()
    (uploaded,) = fake_gemini.files.values()
    assert uploaded.chunks == [8 << 20, 8 << 20, size - (16 << 20)]
    expected = fake_supabase.objects[("raw", "user/clip.mp4")]
    assert bytes(uploaded.data) == b"".join(expected.chunks(0, size))


@pytest.mark.parametrize(("code", "status"), [(429, "RESOURCE_EXHAUSTED"), (503, "UNAVAILABLE")])
def test_quota_and_server_errors_are_transient_after_retries(
    fake_gemini: FakeGemini, client: genai.Client, code: int, status: str
) -> None:
    fake_gemini.replies.extend([error_reply(code, status)] * 2)
    with pytest.raises(TransientError, match=str(code)):
        analyze(client, b"video")
    assert len(fake_gemini.generate_requests) == 2  # retry_attempts
    assert len(fake_gemini.deleted) == 1


def test_a_retry_that_succeeds_is_invisible(fake_gemini: FakeGemini, client: genai.Client) -> None:
    fake_gemini.replies.extend([error_reply(503, "UNAVAILABLE"), json_reply(ITEMS)])
    assert len(analyze(client, b"video").items) == 2


@pytest.mark.parametrize(
    ("code", "status"), [(400, "INVALID_ARGUMENT"), (403, "PERMISSION_DENIED")]
)
def test_client_errors_are_permanent_and_not_retried(
    fake_gemini: FakeGemini, client: genai.Client, code: int, status: str
) -> None:
    fake_gemini.replies.append(error_reply(code, status))
    with pytest.raises(PermanentError, match=str(code)):
        analyze(client, b"video")
    assert len(fake_gemini.generate_requests) == 1
    assert len(fake_gemini.deleted) == 1


def test_a_file_stuck_processing_is_transient(
    fake_gemini: FakeGemini, client: genai.Client
) -> None:
    fake_gemini.final_state = "PROCESSING"
    with pytest.raises(TransientError, match="still"):
        analyze(client, b"video", timeout=0.1)
    assert fake_gemini.generate_requests == []
    assert len(fake_gemini.deleted) == 1


def test_a_failed_file_is_permanent(fake_gemini: FakeGemini, client: genai.Client) -> None:
    fake_gemini.final_state = "FAILED"
    with pytest.raises(PermanentError, match="bad video"):
        analyze(client, b"video")
    assert len(fake_gemini.deleted) == 1


@pytest.mark.parametrize(
    "text", ["not json", '{"items": [{"message": "no other fields"}]}', '{"items": "x"}', ""]
)
def test_output_outside_the_schema_is_transient(
    fake_gemini: FakeGemini, client: genai.Client, text: str
) -> None:
    fake_gemini.replies.append(text_reply(text))
    with pytest.raises(TransientError):
        analyze(client, b"video")
    assert len(fake_gemini.deleted) == 1


def test_a_blocked_prompt_is_permanent(fake_gemini: FakeGemini, client: genai.Client) -> None:
    fake_gemini.replies.append((200, {"promptFeedback": {"blockReason": "SAFETY"}}))
    with pytest.raises(PermanentError, match="blocked"):
        analyze(client, b"video")


def test_a_failed_delete_is_logged_not_raised(
    fake_gemini: FakeGemini, client: genai.Client, caplog: pytest.LogCaptureFixture
) -> None:
    fake_gemini.replies.append(json_reply(ITEMS))
    fake_gemini.delete_status = 500
    assert len(analyze(client, b"video").items) == 2
    assert fake_gemini.deleted == []
    assert "could not delete" in caplog.text


def test_an_unreachable_api_is_transient() -> None:
    with FakeGemini() as gone:
        url = gone.url
    client = make_gemini_client("fake-key", base_url=url, retry_attempts=1)
    with pytest.raises(TransientError, match="upload"):
        analyze(client, b"video")
    client.close()


def test_a_missing_api_key_fails_at_start() -> None:
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        make_gemini_client("")
