"""The `SpeechSynthesizer` port on Google Cloud Text-to-Speech.

SSML in, MP3 out, in the voice of the job's voice snapshot (name and language code). The
duration comes from the audio itself: mutagen reads the MP3's frames from memory (a segment's
audio is small), pure Python, so the deployed functions carry no decoder (PyAV is the local
providers' only).

Error mapping (`google.api_core.exceptions`, raised by both the gRPC and the REST transport):
- 429 (`TooManyRequests`, incl. gRPC `ResourceExhausted`), 408, every 5xx (`ServerError`:
  `InternalServerError`, `ServiceUnavailable`, `GatewayTimeout`/`DeadlineExceeded`…),
  `RetryError`, and network failures (`OSError`, which covers requests' connection errors
  and timeouts) → `TransientError`;
- every other 4xx (`InvalidArgument`/400: bad SSML or an unknown voice, 403, 404…) →
  `PermanentError`: the same request cannot succeed later;
- audio that does not decode, or is empty → `TransientError` (a server fault; attempts bound
  the retries).
The SDK retries nothing for `synthesize_speech` by default, and this adapter adds no retry:
the job queue's backoff is the retry.
"""

from __future__ import annotations

import io
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import texttospeech
from mutagen import MutagenError
from mutagen.mp3 import MP3

from shared.domain import Speech, Voice
from shared.errors import ConfigurationError, PermanentError, TransientError, describe

PROVIDER = "google-tts"
_TRANSIENT_CODES = {408, 429}


def make_tts_client(endpoint: str | None = None) -> texttospeech.TextToSpeechClient:
    """The production client (gRPC, application default credentials), or, with `endpoint`
    (e.g. `http://127.0.0.1:8123`, tests and local fakes), the REST transport at that endpoint
    with anonymous credentials."""
    if endpoint:
        return texttospeech.TextToSpeechClient(
            transport="rest",
            client_options=ClientOptions(api_endpoint=endpoint),
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )
    try:
        return texttospeech.TextToSpeechClient()
    except DefaultCredentialsError as exc:
        raise ConfigurationError(
            "no Google Cloud credentials for Text-to-Speech: run as a service account or set "
            "GOOGLE_APPLICATION_CREDENTIALS (or CUECAST_TTS_ENDPOINT for a local server)"
        ) from exc


def mp3_duration_ms(audio: bytes) -> int:
    """The duration of an MP3 held in memory, from its frames (the Xing/Info frame count
    when the encoder wrote one, else the stream's frames and bitrate)."""
    try:
        info: Any = MP3(io.BytesIO(audio)).info  # type: ignore[no-untyped-call]  # untyped
    except MutagenError as exc:
        raise ValueError(f"not an MP3: {exc}") from exc
    length = float(getattr(info, "length", 0) or 0)
    if length <= 0:
        raise ValueError("no audio frames")
    return round(length * 1000)


def _map_error(exc: Exception) -> Exception:
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        code = exc.code
        if code is not None and (code in _TRANSIENT_CODES or code >= 500):
            return TransientError(f"text-to-speech failed: {describe(exc)}")
        return PermanentError(f"text-to-speech rejected the request: {describe(exc)}")
    return TransientError(f"text-to-speech failed: {describe(exc)}")


class GoogleSynthesizer:
    """Cloud Text-to-Speech is a thread-safe client; `max_concurrency` calls may overlap."""

    def __init__(
        self,
        client: texttospeech.TextToSpeechClient,
        *,
        max_concurrency: int = 8,
        timeout_s: float = 60.0,
    ) -> None:
        self._client = client
        self.max_concurrency = max_concurrency
        self._timeout_s = timeout_s

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        request = texttospeech.SynthesizeSpeechRequest(
            input=texttospeech.SynthesisInput(ssml=ssml),
            voice=texttospeech.VoiceSelectionParams(name=voice.name, language_code=voice.language),
            audio_config=texttospeech.AudioConfig(audio_encoding=texttospeech.AudioEncoding.MP3),
        )
        try:
            response = self._client.synthesize_speech(request=request, timeout=self._timeout_s)
        except (api_exceptions.GoogleAPIError, OSError) as exc:
            raise _map_error(exc) from exc
        audio = bytes(response.audio_content)
        try:
            duration_ms = mp3_duration_ms(audio)
        except ValueError as exc:
            raise TransientError(f"text-to-speech returned undecodable audio: {exc}") from exc
        return Speech(
            audio=audio,
            format="mp3",
            content_type="audio/mpeg",
            duration_ms=duration_ms,
            provider=PROVIDER,
            version=voice.name,
        )
