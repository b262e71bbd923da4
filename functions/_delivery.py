"""Acknowledge the deliveries functions-framework would refuse before our code runs.

functions-framework (3.10) reads a CloudEvent function's request in two tries: cloudevents'
`from_http` (structured or binary mode), and when that finds no CloudEvent, its conversion of
a Pub/Sub push envelope or a legacy background event. When both fail it answers 400 — or 415
for a body without a JSON content type, or 500 when the body is JSON but not an object, or
`from_http` itself raises on bytes it cannot read (not UTF-8, huge integers, deep nesting).
Pub/Sub redelivers every non-2xx answer, and these bytes can never convert, so such a
delivery would come back forever.

`acknowledge_unreadable` runs before functions-framework's view (a Flask `before_request`
hook that main.py installs), tries the same two conversions on the same bytes, and answers
200 with a logged reason when neither can succeed. It only reads the request: conversion is a
pure function of the bytes, so a failure here is permanent by construction, while anything
that goes wrong later (the database, a provider) still surfaces as non-2xx.
"""

from __future__ import annotations

import logging

import flask
from cloudevents.exceptions import InvalidRequiredFields, MissingRequiredFields
from cloudevents.http import from_http
from functions_framework import event_conversion

from shared.errors import NotDue, RetryLater, describe

log = logging.getLogger("cuecast.functions")

CLOUDEVENT_ENDPOINT = "cloudevent"  # the endpoint functions-framework routes events to
_NOT_A_CLOUD_EVENT = (MissingRequiredFields, InvalidRequiredFields)


def unreadable_reason(request: flask.Request) -> str | None:
    """Why functions-framework cannot turn this request into a CloudEvent, or None."""
    try:
        from_http(request.headers, request.get_data())
    except _NOT_A_CLOUD_EVENT:
        pass  # functions-framework tries a push envelope or background event next
    except Exception as exc:  # any failure to read the same bytes is final
        return f"not a readable CloudEvent: {describe(exc, 300)}"
    else:
        return None
    try:
        event_conversion.background_event_to_cloud_event(request)
    except Exception as exc:  # EventConversionException, BadRequest, TypeError, …
        return f"neither a CloudEvent nor a Pub/Sub push envelope: {describe(exc, 300)}"
    return None


def acknowledge_unreadable() -> flask.Response | None:
    """Flask before_request hook: answer 200 for an event request that can never convert."""
    request = flask.request
    if request.endpoint != CLOUDEVENT_ENDPOINT:
        return None
    reason = unreadable_reason(request)
    if reason is None:
        return None
    log.warning(
        "unreadable delivery acknowledged",
        extra={"function": flask.current_app.name, "reason": reason},
    )
    return flask.Response("OK", status=200, mimetype="text/plain")


def redeliver_quietly(exc: Exception) -> flask.Response:
    """A planned redelivery (a transient failure recorded with attempts left, or a job not
    due yet): 429, which Pub/Sub retries with its backoff and Cloud Run counts as a client
    answer, not a server error. The stage has logged it as one WARNING line already, so
    Flask logs no "Exception on /" traceback at ERROR for what is expected behaviour."""
    return flask.Response("retry later", status=429, mimetype="text/plain")


def install(app: flask.Flask) -> None:
    """Run `acknowledge_unreadable` before every request of a functions-framework app, and
    answer planned redeliveries without a traceback."""
    app.before_request(acknowledge_unreadable)
    app.register_error_handler(RetryLater, redeliver_quietly)
    app.register_error_handler(NotDue, redeliver_quietly)
