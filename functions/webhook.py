"""webhook: the Supabase database webhook, and manual starts, → the start-analysis topic;
an edited message's re-queued SSML job → the ssml topic.

POST only (405), the shared secret in `X-Webhook-Secret` (401; a blank configured secret
matches nothing), at most 256 KB whether the length is declared or the body is chunked (413),
declared as JSON (415), a JSON object body (400): Supabase's payload for `analysis_jobs` or
`ssml_jobs`, `{"videoRecordingId": N}` or `{"videoPath": "…"}`. An unknown recording or job
is a 404; otherwise 202 with the job id (or the item's id), after publishing.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from typing import Any

import flask
import functions_framework

from shared import logs
from shared.bootstrap import get_app
from shared.domain import Stage
from shared.errors import InvalidMessage, NotFound
from shared.messages import parse_id
from shared.services.webhook import ring_ssml, start_analysis

log = logging.getLogger("cuecast.webhook")

SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 - the header's name, not a secret
MAX_BODY_BYTES = 256 * 1024  # a row payload is a few KB


def _reply(status: int, **body: object) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    return response


def parse_start(body: object) -> dict[str, Any]:
    """The start request in a webhook body, as keyword arguments for `start_analysis`."""
    if not isinstance(body, dict):
        raise InvalidMessage("the body must be a JSON object")
    if "videoRecordingId" in body:
        return {"video_recording_id": parse_id(body["videoRecordingId"], "videoRecordingId")}
    if "videoPath" in body:
        path = body["videoPath"]
        if not isinstance(path, str) or not path.strip() or len(path) > 1024:
            raise InvalidMessage("videoPath must be a non-empty string")
        return {"video_path": path}
    if body.get("table") == "analysis_jobs" and isinstance(body.get("record"), dict):
        return {"analysis_job_id": parse_id(body["record"].get("id"), "record.id")}
    if body.get("table") == "ssml_jobs" and isinstance(body.get("record"), dict):
        return {"feedback_id": parse_id(body["record"].get("feedback_id"), "record.feedback_id")}
    raise InvalidMessage(
        "expected a Supabase analysis_jobs or ssml_jobs payload, videoRecordingId or videoPath"
    )


def _json(data: bytes) -> object:
    """The body as JSON; None when it is not UTF-8 JSON (deep nesting and 5,000-digit
    numbers included, which json reports as RecursionError and a plain ValueError)."""
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


def _refuse(request: flask.Request, secret: str | None) -> flask.Response | None:
    """The reply for a request that must go no further, or None to proceed."""
    if request.method != "POST":
        response = _reply(405, error="method not allowed")
        response.headers["Allow"] = "POST"
        return response
    given = request.headers.get(SECRET_HEADER, "")
    if not (secret and secret.strip()) or not hmac.compare_digest(
        given.encode("utf-8"), secret.encode("utf-8")
    ):
        log.warning("webhook call with a wrong or missing secret")
        return _reply(401, error="unauthorized")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _reply(413, error="body too large")
    if not request.is_json:
        return _reply(415, error="expected application/json")
    return None


@functions_framework.http
def webhook(request: flask.Request) -> flask.Response:
    trace = logs.trace_from_headers(dict(request.headers)) or uuid.uuid4().hex
    with logs.bind(function="webhook", trace=trace):
        return _handle(request)


def _handle(request: flask.Request) -> flask.Response:
    app = get_app("webhook")
    expected = app.settings.webhook_secret
    refusal = _refuse(request, expected.get_secret_value() if expected else None)
    if refusal is not None:
        return refusal
    data = request.stream.read(MAX_BODY_BYTES + 1)  # a chunked body declares no length
    if len(data) > MAX_BODY_BYTES:
        return _reply(413, error="body too large")
    try:
        start = parse_start(_json(data))
    except InvalidMessage as exc:
        log.warning("malformed webhook body", extra={"reason": str(exc)})
        return _reply(400, error=str(exc))
    if "feedback_id" in start:  # an edit re-queued this item's SSML: ring it now
        ring_ssml(app.publisher_for("webhook"), app.settings.topic(Stage.SSML), **start)
        log.info("ssml published", extra={"feedback_id": start["feedback_id"]})
        return _reply(202, feedback_id=start["feedback_id"], published=True)
    try:
        job_id = start_analysis(
            app.database,
            app.publisher_for("webhook"),
            app.settings.topic(Stage.ANALYSIS),
            **start,
        )
    except NotFound as exc:
        log.warning("webhook names nothing", extra={"reason": str(exc)})
        return _reply(404, error=str(exc))
    log.info("start-analysis published", extra={"analysis_job_id": job_id})
    return _reply(202, analysis_job_id=job_id, published=True)
