"""The `Analyzer` port on Gemini (google-genai): Files API upload, structured JSON output.

The video is uploaded from the stream the caller opened (a seekable, read-only file object,
e.g. Supabase Storage read through HTTP Range requests). google-genai's `files.upload` accepts
an `io.IOBase`: it seeks to the end to learn the size, then sends the resumable upload in
8 MiB `read()`s (`BaseApiClient._upload_fd`), so the video is never held whole in memory and
never written to /tmp.

Then: wait (bounded) for the file to become ACTIVE, ask the model for feedback items with
`response_mime_type="application/json"` and a response schema (the pydantic models below,
the only pydantic in this module), validate the JSON into `FeedbackItem`s, and delete the
uploaded file (always; a failed delete is logged, never raised: files expire after 48 h).

Error mapping (decided here, acted on by `shared.errors.is_transient`):
- `google.genai.errors.APIError` with code 408, 429 or 5xx → `TransientError` (quota and
  server trouble pass; the SDK has already retried them per `HttpRetryOptions`);
- any other `APIError` (400 bad request, 403 key/permission, 404 unknown model…) →
  `PermanentError`: the same request will fail the same way;
- httpx/httpx2 transport errors (timeouts, refused or dropped connections) and the SDK's
  upload-protocol errors (`ValueError`/`KeyError` from an unfinished resumable upload) →
  `TransientError`;
- the file still PROCESSING after `active_timeout` → `TransientError`; FAILED →
  `PermanentError` (Gemini cannot read this video);
- a prompt blocked by safety filters → `PermanentError`; an empty answer, or an answer that
  is not valid JSON for the schema → `TransientError` (models occasionally produce these, and
  a new attempt usually does not). Items whose values are out of range are passed on: the
  stage checks them with `FeedbackItem.problems`.
"""

from __future__ import annotations

import io
import logging
import time
from typing import BinaryIO

import httpx
import httpx2
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from shared.domain import Analysis, FeedbackItem, Voice
from shared.errors import (
    ConfigurationError,
    CuecastError,
    PermanentError,
    TransientError,
    describe,
)

log = logging.getLogger(__name__)

PROVIDER = "gemini"
_TRANSIENT_CODES = {408, 429}
_NETWORK_ERRORS = (httpx.TransportError, httpx2.TransportError)
# What the SDK's tenacity retry re-sends: request timeout, quota, server errors.
RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]

PROMPT = """\
You are an encouraging, precise coach reviewing a short video of a person practising.
Give between 1 and 10 pieces of feedback about what they do in the video: what to keep doing
and what to change. Each item refers to one moment:
- timestamp_seconds: seconds from the start of the video where the moment begins (a number
  between 0 and the video's length);
- category: one lowercase word or two for the aspect, e.g. posture, technique, timing,
  movement, voice, pacing, gesture, breathing, focus;
- message: one or two short spoken sentences addressed to the person ("you"), under 200
  characters, written in the language {language}; no markup, no emoji;
- confidence: 0 to 1, how sure you are about what you saw;
- impact: 0 to 1, how much acting on it would improve the performance.
Answer with JSON only, as the schema describes.
"""


class FeedbackItemSchema(pydantic.BaseModel):
    """One item as Gemini returns it (the response schema and its validator)."""

    model_config = pydantic.ConfigDict(extra="ignore")

    timestamp_seconds: float = pydantic.Field(
        description="Seconds from the start of the video.", json_schema_extra={"minimum": 0}
    )
    category: str = pydantic.Field(description="The aspect of the performance.")
    message: str = pydantic.Field(description="What the coach says, one or two sentences.")
    confidence: float = pydantic.Field(
        description="0..1, certainty.", json_schema_extra={"minimum": 0, "maximum": 1}
    )
    impact: float = pydantic.Field(
        description="0..1, expected improvement.", json_schema_extra={"minimum": 0, "maximum": 1}
    )


class FeedbackSchema(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")

    items: list[FeedbackItemSchema]


def make_gemini_client(
    api_key: str,
    base_url: str | None = None,
    timeout_s: float = 120.0,
    *,
    retry_attempts: int = 3,
    retry_initial_delay_s: float = 1.0,
    retry_max_delay_s: float = 20.0,
    retry_jitter_s: float = 1.0,
) -> genai.Client:
    """A Gemini Developer API client with an explicit per-request timeout and retry policy.

    google-genai retries nothing unless `retry_options` is given; here 408/429/5xx and
    transport errors are retried `retry_attempts` times in all, with exponential backoff.
    `base_url` points the client elsewhere (tests: a local server).
    """
    if not api_key:
        raise ConfigurationError("missing settings: GEMINI_API_KEY")
    options = types.HttpOptions(
        base_url=base_url,
        timeout=int(timeout_s * 1000),  # milliseconds
        retry_options=types.HttpRetryOptions(
            attempts=retry_attempts,
            initial_delay=retry_initial_delay_s,
            max_delay=retry_max_delay_s,
            jitter=retry_jitter_s,
            http_status_codes=RETRY_STATUS_CODES,
        ),
    )
    return genai.Client(api_key=api_key, http_options=options)


def map_gemini_error(exc: BaseException, doing: str) -> TransientError | PermanentError:
    """The one mapping from google-genai failures to cuecast's permanent/transient errors."""
    if isinstance(exc, genai_errors.APIError):
        code = exc.code or 0
        if code in _TRANSIENT_CODES or code >= 500:
            return TransientError(f"Gemini {doing} failed: {describe(exc)}")
        return PermanentError(f"Gemini {doing} was rejected: {describe(exc)}")
    return TransientError(f"Gemini {doing} failed: {describe(exc)}")


def _duration_seconds(file: types.File) -> float | None:
    """The video's length from the Files API metadata (`"12.5s"`), when Gemini reports it."""
    raw = (file.video_metadata or {}).get("videoDuration")
    if not isinstance(raw, str) or not raw.endswith("s"):
        return None
    try:
        return float(raw[:-1])
    except ValueError:
        return None


class GeminiAnalyzer:
    """Feedback items from Gemini for one video."""

    def __init__(
        self,
        client: genai.Client,
        model: str,
        *,
        poll_interval: float = 2.0,
        active_timeout: float = 300.0,
    ) -> None:
        self._client = client
        self._model = model
        self._poll_interval = poll_interval
        self._active_timeout = active_timeout

    def analyze(self, video: BinaryIO, *, size: int, content_type: str, voice: Voice) -> Analysis:
        if not isinstance(video, io.IOBase):
            raise TypeError("the video stream must be an io.IOBase (seekable, binary)")
        uploaded = self._upload(video, content_type)
        try:
            active = self._wait_active(uploaded)
            items = self._generate(active, voice)
        except CuecastError:
            raise
        except Exception as exc:
            raise map_gemini_error(exc, "analysis") from exc
        finally:
            self._delete(uploaded)
        log.info(
            "gemini analysed the video",
            extra={"model": self._model, "items": len(items), "size_bytes": size},
        )
        return Analysis(
            duration_seconds=_duration_seconds(active),
            items=items,
            provider=PROVIDER,
            model=self._model,
        )

    def _upload(self, video: io.IOBase, content_type: str) -> types.File:
        try:
            uploaded = self._client.files.upload(
                file=video, config=types.UploadFileConfig(mime_type=content_type)
            )
        except (genai_errors.APIError, *_NETWORK_ERRORS, ValueError, KeyError) as exc:
            raise map_gemini_error(exc, "upload") from exc
        if not uploaded.name:
            raise TransientError("Gemini upload returned no file name")
        return uploaded

    def _wait_active(self, file: types.File) -> types.File:
        deadline = time.monotonic() + self._active_timeout
        while file.state != types.FileState.ACTIVE:
            if file.state == types.FileState.FAILED:
                reason = file.error.message if file.error and file.error.message else "no reason"
                raise PermanentError(f"Gemini could not process the video: {reason}")
            if time.monotonic() >= deadline:
                raise TransientError(
                    f"uploaded video still {file.state} after {self._active_timeout:g}s"
                )
            time.sleep(self._poll_interval)
            file = self._client.files.get(name=str(file.name))
        return file

    def _generate(self, file: types.File, voice: Voice) -> tuple[FeedbackItem, ...]:
        response = self._client.models.generate_content(
            model=self._model,
            contents=types.Content(
                role="user",
                parts=[
                    types.Part.from_uri(file_uri=str(file.uri), mime_type=file.mime_type),
                    types.Part.from_text(text=PROMPT.format(language=voice.language)),
                ],
            ),
            config=types.GenerateContentConfig(
                response_mime_type="application/json",
                response_schema=FeedbackSchema,
                temperature=0.2,
            ),
        )
        return _parse_items(response)

    def _delete(self, file: types.File) -> None:
        try:
            self._client.files.delete(name=str(file.name))
        except Exception as exc:
            log.warning(
                "could not delete the uploaded video from Gemini (it expires in 48 h)",
                extra={"gemini_file": file.name, "error": describe(exc)},
            )


def _parse_items(response: types.GenerateContentResponse) -> tuple[FeedbackItem, ...]:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise PermanentError(f"Gemini blocked the request: {feedback.block_reason}")
    text = response.text
    if not text:
        raise TransientError("Gemini returned no text")
    try:
        parsed = FeedbackSchema.model_validate_json(text)
    except pydantic.ValidationError as exc:
        raise TransientError(
            f"Gemini returned JSON outside the schema ({exc.error_count()} errors)"
        ) from exc
    return tuple(
        FeedbackItem(
            timestamp_seconds=item.timestamp_seconds,
            category=item.category.strip(),
            message=item.message.strip(),
            confidence=item.confidence,
            impact=item.impact,
        )
        for item in parsed.items
    )
