"""GeminiSsmlWriter through google-genai at a local generateContent; the builder as fallback."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
from google import genai

from shared.adapters.gemini import make_gemini_client
from shared.adapters.gemini_ssml import GeminiSsmlWriter, spoken_words
from shared.adapters.ssml_builder import SsmlBuilder, check_ssml
from shared.domain import TTS_INPUT_LIMIT_BYTES, SsmlScript, Voice
from tests.adapters.servers import FakeGemini, error_reply, text_reply

VOICE = Voice(name="en-US-Neural2-D", language="en-US", style="coach")
MESSAGE = "Keep your elbows in. Nice work!"
GOOD = (
    '<speak><s>Keep your <emphasis level="moderate">elbows</emphasis> in.</s>'
    '<break time="300ms"/><s>Nice work!</s></speak>'
)


@pytest.fixture
def client(fake_gemini: FakeGemini) -> Iterator[genai.Client]:
    client = make_gemini_client(
        f"fake-key-{secrets.token_hex(8)}", base_url=fake_gemini.url, retry_attempts=1
    )
    yield client
    client.close()


def write(client: genai.Client, message: str = MESSAGE) -> SsmlScript:
    writer = GeminiSsmlWriter(client, "gemini-ssml-model", SsmlBuilder())
    return writer.write(message, category="technique", voice=VOICE)


def test_good_ssml_is_kept(fake_gemini: FakeGemini, client: genai.Client) -> None:
    fake_gemini.replies.append(text_reply(GOOD))
    script = write(client)
    assert (script.provider, script.version) == ("gemini", "gemini-ssml-model")
    (segment,) = script.segments
    assert check_ssml(segment.ssml) == []
    assert '<emphasis level="moderate">elbows</emphasis>' in segment.ssml
    (request,) = fake_gemini.generate_requests
    prompt = request["contents"][0]["parts"][0]["text"]
    assert MESSAGE in prompt
    assert "coach" in prompt
    assert "technique" in prompt


def test_code_fences_and_declaration_are_tolerated(
    fake_gemini: FakeGemini, client: genai.Client
) -> None:
    fake_gemini.replies.append(text_reply(f'```xml\n<?xml version="1.0"?>\n{GOOD}\n```'))
    assert write(client).provider == "gemini"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (GOOD.replace("<s>Nice", '<audio src="http://x.test/a.mp3"/><s>Nice'), "not-allowlisted"),
        (GOOD.replace("<s>", '<s onload="x">', 1), "not-allowlisted"),
        (GOOD.replace('"300ms"', '"1h"'), "not-allowlisted"),
        ("<voice name='x'>Keep your elbows in. Nice work!</voice>", "not-allowlisted"),
        (GOOD.replace("Nice work!", "Nice!"), "words-changed"),
        (GOOD.replace("Nice work!", "Nice work! Buy now."), "words-changed"),
        (
            '<!DOCTYPE speak [<!ENTITY w "work">]><speak>Keep your elbows in. Nice &w;!</speak>',
            "unsafe-xml",
        ),
        (
            '<!DOCTYPE speak SYSTEM "file:///etc/passwd"><speak>' + MESSAGE + "</speak>",
            "unsafe-xml",
        ),
        ("<speak>Keep your elbows in. Nice work!", "invalid-xml"),
        ("", "empty"),
    ],
)
def test_unsafe_or_unfaithful_ssml_falls_back(
    fake_gemini: FakeGemini, client: genai.Client, answer: str, reason: str
) -> None:
    fake_gemini.replies.append(text_reply(answer))
    script = write(client)
    builder = SsmlBuilder().write(MESSAGE, category="technique", voice=VOICE)
    assert script.segments == builder.segments
    assert script.provider == f"builder (gemini rejected: {reason})"
    assert script.version == builder.version
    assert script.notes[-1].startswith("gemini rejected:")


def test_long_ssml_is_split_into_segments_that_fit(
    fake_gemini: FakeGemini, client: genai.Client
) -> None:
    sentences = [f"Sentence number {n} keeps the rhythm steady." for n in range(200)]
    message = " ".join(sentences)
    answer = "<speak>" + '<break time="200ms"/>'.join(f"<s>{s}</s>" for s in sentences) + "</speak>"
    assert len(answer.encode()) > 2 * TTS_INPUT_LIMIT_BYTES
    fake_gemini.replies.append(text_reply(answer))
    script = write(client, message)
    assert script.provider == "gemini"
    assert len(script.segments) >= 3
    assert [s.index for s in script.segments] == list(range(len(script.segments)))
    for segment in script.segments:
        assert len(segment.ssml.encode()) <= TTS_INPUT_LIMIT_BYTES
        assert check_ssml(segment.ssml) == []
    spoken = " ".join("".join(ElementTree.fromstring(s.ssml).itertext()) for s in script.segments)
    assert spoken_words(spoken) == spoken_words(message)


def test_a_part_too_long_for_one_request_falls_back(
    fake_gemini: FakeGemini, client: genai.Client
) -> None:
    message = " ".join(["Keep going, steady and strong, breathe"] * 200) + "."
    fake_gemini.replies.append(text_reply(f"<speak><p><s>{message}</s></p></speak>"))
    script = write(client, message)
    assert script.provider == "builder (gemini rejected: too-long)"
    assert all(len(s.ssml.encode()) <= TTS_INPUT_LIMIT_BYTES for s in script.segments)


@pytest.mark.parametrize(
    ("code", "status"), [(429, "RESOURCE_EXHAUSTED"), (400, "INVALID_ARGUMENT")]
)
def test_api_errors_fall_back_and_are_logged(
    fake_gemini: FakeGemini,
    client: genai.Client,
    caplog: pytest.LogCaptureFixture,
    code: int,
    status: str,
) -> None:
    fake_gemini.replies.append(error_reply(code, status))
    script = write(client)
    assert script.provider == "builder (gemini rejected: api-error)"
    assert str(code) in script.notes[-1]
    assert "gemini ssml call failed" in caplog.text
