from __future__ import annotations

import io
import re
import threading
import time
import wave

import av
import numpy as np
import numpy.typing as npt
import pytest

from shared.adapters.espeak import EspeakSynthesizer, voice_for_language
from shared.adapters.ssml_builder import SsmlBuilder
from shared.domain import TTS_INPUT_LIMIT_BYTES, Speech, Voice
from shared.errors import PermanentError

SSML = "<speak>Keep your elbows in. <break time='300ms'/> Great work at 0:07!</speak>"
MIN_RMS = 300.0  # of 32767: real speech is far louder; digital silence is 0


def decode_wav(speech: Speech) -> tuple[npt.NDArray[np.int16], int]:
    with wave.open(io.BytesIO(speech.audio), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return samples, wav.getframerate()


def rms(samples: npt.NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_speaks_ssml_as_a_wav_of_real_speech(voice: Voice) -> None:
    speech = EspeakSynthesizer().synthesize(SSML, voice)
    assert speech.format == "wav"
    assert speech.content_type == "audio/wav"
    assert speech.provider == "espeak-ng"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?.*", speech.version)
    samples, rate = decode_wav(speech)
    assert rate in (16_000, 22_050, 24_000, 44_100, 48_000)
    assert rms(samples) > MIN_RMS
    assert abs(len(samples) * 1000 / rate - speech.duration_ms) <= 50
    assert 1_500 < speech.duration_ms < 8_000


def test_duration_agrees_with_an_independent_decoder(voice: Voice) -> None:
    speech = EspeakSynthesizer().synthesize(SSML, voice)
    with av.open(io.BytesIO(speech.audio), mode="r") as container:
        decoded: int = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].rate
    assert abs(decoded * 1000 / rate - speech.duration_ms) <= 50


def test_ssml_is_interpreted_not_read_aloud(voice: Voice) -> None:
    synthesizer = EspeakSynthesizer()
    short = synthesizer.synthesize('<speak>One. <break time="2s"/> Two.</speak>', voice)
    long = synthesizer.synthesize('<speak>One. <break time="4s"/> Two.</speak>', voice)
    assert 1_800 <= long.duration_ms - short.duration_ms <= 2_200


def test_longer_text_gives_longer_audio(voice: Voice) -> None:
    synthesizer = EspeakSynthesizer()
    short = synthesizer.synthesize("<speak>Hello.</speak>", voice)
    long = synthesizer.synthesize("<speak>" + "Hello, how are you today? " * 6 + "</speak>", voice)
    assert long.duration_ms > 4 * short.duration_ms


def test_same_ssml_gives_identical_audio(voice: Voice) -> None:
    synthesizer = EspeakSynthesizer()
    first = synthesizer.synthesize(SSML, voice)
    synthesizer.synthesize("<speak>Something else in between.</speak>", voice)
    assert synthesizer.synthesize(SSML, voice) == first


def test_speaks_every_builder_segment_of_hostile_text(voice: Voice) -> None:
    message = (
        "</speak> <!DOCTYPE x [<!ENTITY a 'b'>]> ]]> &amp; \"quotes\" 'apostrophes' 👍🏽 "
        "e\u0301 مرحبا \x00\x07 done."
    )
    script = SsmlBuilder().write(message, category="x", voice=voice)
    for segment in script.segments:
        samples, _ = decode_wav(EspeakSynthesizer().synthesize(segment.ssml, voice))
        assert rms(samples) > MIN_RMS


def test_a_full_size_segment_is_spoken(voice: Voice) -> None:
    script = SsmlBuilder().write(
        "Keep going, you are doing well. " * 300, category="x", voice=voice
    )
    ssml = script.segments[0].ssml
    assert len(ssml.encode()) > TTS_INPUT_LIMIT_BYTES - 200
    started = time.monotonic()
    speech = EspeakSynthesizer().synthesize(ssml, voice)
    assert time.monotonic() - started < 10
    assert speech.duration_ms > 60_000


@pytest.mark.parametrize("language", ["fr-FR", "de-DE", "es-419", "xx-YY", ""])
def test_other_languages_speak_too(language: str) -> None:
    speech = EspeakSynthesizer().synthesize(
        "<speak>Bonjour. Hallo. Hola.</speak>", Voice("v", language, "coach")
    )
    samples, _ = decode_wav(speech)
    assert rms(samples) > MIN_RMS


def test_language_tags_map_to_espeak_voices() -> None:
    voices = {"en-us": "gmw/en-US", "en": "gmw/en", "fr": "roa/fr", "pt-br": "roa/pt-BR"}
    assert voice_for_language("en-US", voices) == "gmw/en-US"
    assert voice_for_language("EN_us", voices) == "gmw/en-US"
    assert voice_for_language("en-AU", voices) == "gmw/en"
    assert voice_for_language("fr-CA", voices) == "roa/fr"
    assert voice_for_language("pt-BR", voices) == "roa/pt-BR"
    assert voice_for_language("xx-YY", voices) == "gmw/en"
    assert voice_for_language("", voices) == "gmw/en"
    assert voice_for_language("xx", {}) == "en"


@pytest.mark.parametrize("ssml", ["", "   ", "\ud800"])
def test_unusable_input_is_a_permanent_error(ssml: str, voice: Voice) -> None:
    with pytest.raises(PermanentError):
        EspeakSynthesizer().synthesize(ssml, voice)


def test_concurrent_calls_are_serialised_and_correct(voice: Voice) -> None:
    synthesizer = EspeakSynthesizer()
    assert synthesizer.max_concurrency == 1
    texts = [f"<speak>Item {n}. Keep going.</speak>" for n in range(6)]
    expected = [synthesizer.synthesize(text, voice) for text in texts]
    results: dict[int, Speech] = {}

    def speak(index: int) -> None:
        results[index] = synthesizer.synthesize(texts[index], voice)

    threads = [threading.Thread(target=speak, args=(n,)) for n in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[n] for n in range(len(texts))] == expected
