"""Pub/Sub doorbells: encode the stage messages, and decode CloudEvents defensively.

A message carries one id and nothing else: the handler reads the rest from the database, so a
duplicate or a replay is harmless. A message may ask for a re-run (`{"feedback_id": 7,
"rerun": true}`): the job is re-queued whatever it had come to, then run (migration
20251204000001). The reconciler's probes (`{"probe": id}`, on every stage topic) carry the id
of a `cuecast.doorbell_probes` row. Anything that does not decode
into exactly that raises InvalidMessage with the reason; the entry point logs it and
acknowledges, so a poison message is never retried forever.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from shared.domain import Stage
from shared.errors import InvalidMessage
from shared.stages import STAGES

PUBSUB_EVENT_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"
MAX_DATA_BYTES = 16 * 1024  # an id message is tens of bytes; anything near this is not ours
MAX_ID = 2**63 - 1
# What json.loads raises for bytes that are no JSON document: JSONDecodeError, but also
# UnicodeDecodeError and, for integers over 4,300 digits, a plain ValueError (all
# ValueErrors), and RecursionError for arrays nested thousands deep.
_UNPARSEABLE = (ValueError, RecursionError)


PROBE_KEY = "probe"
RERUN_KEY = "rerun"


@dataclass(frozen=True)
class Doorbell:
    stage: Stage
    id: int
    trace: str | None = None
    message_id: str | None = None
    probe: bool = False  # a reconciler probe: `id` is the probe's, not a job's
    rerun: bool = False  # re-queue the job whatever it had come to, then run it


def message_key(stage: Stage) -> str:
    """The id's name in this stage's messages."""
    return STAGES[stage].message_key


def encode(stage: Stage, job_id: int) -> dict[str, int]:
    return {message_key(stage): job_id}


def encode_probe(probe_id: int) -> dict[str, int]:
    return {PROBE_KEY: probe_id}


def encode_rerun(stage: Stage, job_id: int) -> dict[str, int | bool]:
    return {message_key(stage): job_id, RERUN_KEY: True}


def parse_id(value: object, field: str) -> int:
    """A positive bigint id; bools, floats, strings and out-of-range numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidMessage(f"{field} must be an integer, got {type(value).__name__}")
    if not 1 <= value <= MAX_ID:
        raise InvalidMessage(f"{field} must be between 1 and 2^63-1, got {value}")
    return value


def decode_payload(stage: Stage, data: bytes) -> int:
    """The id in a stage message's data bytes."""
    key, value, _ = _decode(stage, data)
    if key == PROBE_KEY:
        raise InvalidMessage("a probe, not a stage message")
    return value


def _decode(stage: Stage, data: bytes) -> tuple[str, int, bool]:
    """(the key, the id, whether a re-run is asked) of a stage message or a probe."""
    if len(data) > MAX_DATA_BYTES:
        raise InvalidMessage(f"message data is {len(data)} bytes, over {MAX_DATA_BYTES}")
    try:
        payload = json.loads(data.decode("utf-8"))
    except _UNPARSEABLE as exc:
        raise InvalidMessage(f"message data is not UTF-8 JSON: {_brief(exc)}") from exc
    key = message_key(stage)
    if isinstance(payload, dict) and set(payload) == {PROBE_KEY}:
        return PROBE_KEY, parse_id(payload[PROBE_KEY], PROBE_KEY), False
    if not isinstance(payload, dict) or set(payload) not in ({key}, {key, RERUN_KEY}):
        raise InvalidMessage(f'expected {{"{key}": <int>}}, got {_preview(payload)}')
    rerun = payload.get(RERUN_KEY, False)
    if rerun is not True and rerun is not False:
        raise InvalidMessage(f"{RERUN_KEY} must be true or false, got {_preview(rerun)}")
    return key, parse_id(payload[key], key), rerun


def decode_event(stage: Stage, event_type: str | None, data: object) -> Doorbell:
    """A Pub/Sub CloudEvent (Eventarc, or a push envelope functions-framework converted)."""
    if event_type != PUBSUB_EVENT_TYPE:
        raise InvalidMessage(f"unexpected CloudEvent type {event_type!r}")
    if isinstance(data, bytes | str):  # binary-mode events may arrive undecoded
        try:
            data = json.loads(data)
        except _UNPARSEABLE as exc:
            raise InvalidMessage(f"CloudEvent data is not UTF-8 JSON: {_brief(exc)}") from exc
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        raise InvalidMessage("CloudEvent data has no Pub/Sub `message` object")
    encoded = message.get("data")
    if not isinstance(encoded, str):
        raise InvalidMessage("Pub/Sub message has no base64 `data`")
    if len(encoded) > MAX_DATA_BYTES * 4 // 3 + 4:
        raise InvalidMessage(f"message data is {len(encoded)} base64 characters, too large")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidMessage(f"message data is not valid base64: {exc}") from exc
    attributes = message.get("attributes")
    trace = attributes.get("trace") if isinstance(attributes, Mapping) else None
    message_id = message.get("messageId") or message.get("message_id")
    key, value, rerun = _decode(stage, raw)
    if rerun and not message_id:
        raise InvalidMessage("a re-run needs its Pub/Sub messageId (a redelivery is not a re-run)")
    return Doorbell(
        stage,
        value,
        trace=trace if isinstance(trace, str) else None,
        message_id=str(message_id)[:200] if message_id else None,
        probe=key == PROBE_KEY,
        rerun=rerun,
    )


def _brief(exc: BaseException, limit: int = 200) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "…"


def _preview(value: object, limit: int = 120) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
