"""GoogleSynthesizer through google-cloud-texttospeech's REST transport at a local server."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from google.cloud import texttospeech

from shared.adapters.google_tts import GoogleSynthesizer, make_tts_client, mp3_duration_ms
from shared.domain import Voice
from shared.errors import ConfigurationError, PermanentError, TransientError
from tests.adapters.servers import FakeTextToSpeech, error_reply, make_mp3

VOICE = Voice(name="en-GB-Neural2-B", language="en-GB", style="calm")
SSML = '<speak><s>Keep your elbows in.</s><break time="300ms"/></speak>'


@pytest.fixture
def client(fake_tts: FakeTextToSpeech) -> Iterator[texttospeech.TextToSpeechClient]:
    with make_tts_client(fake_tts.endpoint) as client:
        yield client


def test_synthesizes_mp3_in_the_snapshot_voice(
    fake_tts: FakeTextToSpeech, client: texttospeech.TextToSpeechClient
) -> None:
    fake_tts.audio = make_mp3(seconds=1.5)
    speech = GoogleSynthesizer(client).synthesize(SSML, VOICE)

    (body,) = fake_tts.bodies
    assert body["input"] == {"ssml": SSML}
    assert body["voice"]["name"] == "en-GB-Neural2-B"
    assert body["voice"]["languageCode"] == "en-GB"
    assert body["audioConfig"]["audioEncoding"] == "MP3"
    assert speech.audio == fake_tts.audio
    assert (speech.format, speech.content_type) == ("mp3", "audio/mpeg")
    assert abs(speech.duration_ms - 1500) <= FRAMING_MS
    assert (speech.provider, speech.version) == ("google-tts", "en-GB-Neural2-B")


# The duration is read from the MP3's frames, which carry the encoder's delay and its last
# frame's padding (about three 24 ms frames at 24 kHz) when no LAME header says how much.
FRAMING_MS = 80


def test_duration_is_read_from_the_audio() -> None:
    for seconds, rate in ((0.4, 24000), (3.0, 22050), (12.0, 24000)):
        measured = mp3_duration_ms(make_mp3(seconds=seconds, rate=rate))
        assert 0 <= measured - seconds * 1000 <= FRAMING_MS, (seconds, rate, measured)


def test_concurrency_is_declared(client: texttospeech.TextToSpeechClient) -> None:
    assert GoogleSynthesizer(client).max_concurrency == 8
    assert GoogleSynthesizer(client, max_concurrency=2).max_concurrency == 2


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        (429, "RESOURCE_EXHAUSTED", TransientError),
        (500, "INTERNAL", TransientError),
        (503, "UNAVAILABLE", TransientError),
        (504, "DEADLINE_EXCEEDED", TransientError),
        (400, "INVALID_ARGUMENT", PermanentError),
        (403, "PERMISSION_DENIED", PermanentError),
        (404, "NOT_FOUND", PermanentError),
    ],
)
def test_error_mapping(
    fake_tts: FakeTextToSpeech,
    client: texttospeech.TextToSpeechClient,
    code: int,
    status: str,
    error: type[Exception],
) -> None:
    fake_tts.replies.append(error_reply(code, status))
    with pytest.raises(error, match=str(code)):
        GoogleSynthesizer(client).synthesize(SSML, VOICE)
    assert len(fake_tts.bodies) == 1  # no retry inside the adapter: the queue retries


def test_undecodable_audio_is_transient(
    fake_tts: FakeTextToSpeech, client: texttospeech.TextToSpeechClient
) -> None:
    fake_tts.audio = b"\x00not an mp3" * 100
    with pytest.raises(TransientError, match="undecodable"):
        GoogleSynthesizer(client).synthesize(SSML, VOICE)


def test_an_unreachable_endpoint_is_transient() -> None:
    with FakeTextToSpeech() as gone:
        endpoint = gone.endpoint
    with make_tts_client(endpoint) as client, pytest.raises(TransientError):
        GoogleSynthesizer(client, timeout_s=2).synthesize(SSML, VOICE)


def test_missing_credentials_fail_at_start(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigurationError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        make_tts_client()
