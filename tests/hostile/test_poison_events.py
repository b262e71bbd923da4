"""Poison Pub/Sub deliveries at start_analysis, ssml and audio, through functions-framework.

Each is acknowledged (HTTP 200: anything else makes Pub/Sub redeliver it, forever), logged
with a reason, changes no row of any public table and publishes nothing. Every job in the
world is claimable under id 1, so a decoder that let `1.0`, `"1"` or `true` through would
change the database and fail the test.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from tests.hostile.conftest import build_claimable_world
from tests.hostile.deliveries import (
    CE_JSON,
    SHAPES,
    STORAGE_EVENT_TYPE,
    SUBSCRIPTION,
    Delivery,
    as_json,
    b64,
    b64_json,
    binary,
    binary_headers,
    cloud_event,
    post,
    pubsub_message,
    push,
    snapshot,
    structured,
)
from tests.pipeline.harness import pipeline

ENTRY_POINTS = {"start_analysis": "analysis_job_id", "ssml": "feedback_id", "audio": "feedback_id"}
OTHER_FIELD = {"analysis_job_id": "feedback_id", "feedback_id": "analysis_job_id"}
NINES = "9" * 5000  # Python refuses to parse integers over 4300 digits (ValueError)

# What a poison puts in `message.data`, given the entry point's id field.
DATA_POISONS: dict[str, Callable[[str], object]] = {
    "bad base64": lambda f: "!!not base64!!",
    "base64 bad padding": lambda f: "eyJ",
    "base64 url-safe alphabet": lambda f: "-_-_",
    "base64 non-ascii": lambda f: "ëëëë",
    "empty data": lambda f: "",
    "not json": lambda f: b64("{nope"),
    "json null": lambda f: b64_json(None),
    "json list": lambda f: b64_json([1]),
    "json number": lambda f: b64_json(1),
    "json string": lambda f: b64_json("1"),
    "empty object": lambda f: b64_json({}),
    "wrong key": lambda f: b64_json({"id": 1}),
    "extra key": lambda f: b64_json({f: 1, "x": 2}),
    "another stage's message": lambda f: b64_json({OTHER_FIELD[f]: 1}),
    "negative id": lambda f: b64_json({f: -5}),
    "zero id": lambda f: b64_json({f: 0}),
    "id 2^63": lambda f: b64_json({f: 2**63}),
    "id 2^70": lambda f: b64_json({f: 2**70}),
    "5000-digit id": lambda f: b64(f'{{"{f}": {NINES}}}'),
    "float 1.0": lambda f: b64_json({f: 1.0}),
    "float 1.5": lambda f: b64_json({f: 1.5}),
    "exponent 1e0": lambda f: b64(f'{{"{f}": 1e0}}'),
    "NaN": lambda f: b64(f'{{"{f}": NaN}}'),
    "-Infinity": lambda f: b64(f'{{"{f}": -Infinity}}'),
    "string id": lambda f: b64_json({f: "1"}),
    "bool id": lambda f: b64_json({f: True}),
    "null id": lambda f: b64_json({f: None}),
    "object id": lambda f: b64_json({f: {"$numberLong": "1"}}),
    "list id": lambda f: b64_json({f: [1]}),
    "unknown id": lambda f: b64_json({f: 999_999}),
    "non-UTF-8 bytes": lambda f: b64(b'{"' + f.encode() + b'": 1, "x": "\xff\xfe"}'),
    "UTF-16": lambda f: b64(json.dumps({f: 1}).encode("utf-16")),
    "UTF-8 BOM": lambda f: b64(b"\xef\xbb\xbf" + json.dumps({f: 1}).encode()),
    "trailing NUL": lambda f: b64(json.dumps({f: 1}).encode() + b"\x00"),
    "nested 7000 deep": lambda f: b64("[" * 7000 + "]" * 7000),
    "over 16 KB": lambda f: b64(json.dumps({f: 1}) + " " * 16 * 1024),
    "10 MB": lambda f: b64(b"x" * 10 * 1024 * 1024),
    "data a number": lambda f: 12345,
    "data null": lambda f: None,
    "data an object": lambda f: {f: 1},
}


def _raw(headers: dict[str, str], body: bytes | str) -> Callable[[str], Delivery]:
    return lambda f: (headers, body.encode() if isinstance(body, str) else body)


def _ce_body(**changes: object) -> bytes:
    event = cloud_event({"message": pubsub_message(b64_json({"feedback_id": 1}))})
    return as_json({k: v for k, v in {**event, **changes}.items() if v is not None})


def _without(name: str) -> bytes:
    event = cloud_event({"message": pubsub_message(b64_json({"feedback_id": 1}))})
    return as_json({k: v for k, v in event.items() if k != name})


CE = {"Content-Type": CE_JSON}
APP_JSON = {"Content-Type": "application/json"}
ENVELOPE_POISONS: dict[str, Callable[[str], Delivery]] = {
    "structured: body not JSON": _raw(CE, "{nope"),
    "structured: body a JSON list": _raw(CE, "[1, 2]"),
    "structured: body a JSON string": _raw(CE, '"hello"'),
    "structured: body not UTF-8": _raw(CE, b'{"specversion": "1.0", "x": "\xff\xfe"}'),
    "structured: unknown specversion": _raw(CE, _ce_body(specversion="2.0")),
    "structured: no type": _raw(CE, _without("type")),
    "structured: no id": _raw(CE, _without("id")),
    "structured: wrong type": lambda f: structured(
        pubsub_message(b64_json({f: 1})), type_=STORAGE_EVENT_TYPE
    ),
    "structured: no data": _raw(CE, _without("data")),
    "structured: data a string": _raw(CE, _ce_body(data="hello")),
    "structured: message a string": _raw(CE, _ce_body(data={"message": "data messageId"})),
    "structured: message without data": lambda f: structured({"messageId": "m1"}),
    "structured: bad data_base64": _raw(CE, _ce_body(data=None, data_base64="!!!")),
    "structured: 5000-digit number": _raw(CE, _ce_body(x=0)[:-1] + f', "y": {NINES}}}'.encode()),
    "structured: nested 100000 deep": _raw(CE, '{"specversion": "1.0", "x": ' + "[" * 100_000),
    "binary: unknown specversion": lambda f: (binary_headers(specversion="2.0"), b'{"x": 1}'),
    "binary: wrong type": lambda f: binary(
        pubsub_message(b64_json({f: 1})), type_=STORAGE_EVENT_TYPE
    ),
    "binary: body not JSON": lambda f: (binary_headers(), b"{nope"),
    "binary: body not UTF-8": lambda f: (binary_headers(), b'{"message": "\xff\xfe"}'),
    "binary: empty body": lambda f: (binary_headers(), b""),
    "binary: body a JSON list": lambda f: (binary_headers(), b"[1]"),
    "binary: nested 100000 deep": lambda f: (binary_headers(), b"[" * 100_000),
    "push: no message": _raw(APP_JSON, as_json({"subscription": SUBSCRIPTION})),
    "push: message without data": lambda f: push({"messageId": "m1", "attributes": {"a": "b"}}),
    "push: message without messageId": lambda f: push({"data": b64_json({f: 1})}),
    "push: no subscription": lambda f: (APP_JSON, as_json({"message": pubsub_message("e30=")})),
    "push: message a string": lambda f: push("data messageId"),
    "push: message null": lambda f: push(None),
    "push: body a JSON list": _raw(APP_JSON, "[1, 2]"),
    "push: body a JSON number": _raw(APP_JSON, "7"),
    "push: body not JSON": _raw(APP_JSON, "{nope"),
    "push: body not UTF-8": _raw(APP_JSON, b'{"message": "\xff\xfe"}'),
    "push: empty body": _raw(APP_JSON, ""),
    "push: no content type": _raw({}, "message=1"),
    "push: text/plain": _raw({"Content-Type": "text/plain"}, "hello"),
    "push: context not an object": _raw(APP_JSON, as_json({"context": 5, "data": {}})),
    "push: legacy storage event": _raw(
        APP_JSON,
        as_json(
            {
                "context": {
                    "eventId": "1",
                    "timestamp": "2026-01-01T00:00:00Z",
                    "eventType": "google.storage.object.finalize",
                    "resource": {"service": "storage.googleapis.com", "name": "x"},
                },
                "data": {"bucket": "raw", "name": "x"},
            }
        ),
    ),
    "push: 5000-digit number": _raw(APP_JSON, '{"subscription": "s", "x": ' + NINES + "}"),
}


@pytest.fixture
def fresh(conn, db_url, tmp_path):
    """A world of its own, for tests that change it."""
    build_claimable_world(conn)
    with pipeline(db_url, tmp_path) as p:
        yield p


def _check_acknowledged(world, caplog, make: Callable[[str], Delivery], case: str) -> None:
    conn, p = world.conn, world.pipeline
    before = snapshot(conn)
    for function, field in ENTRY_POINTS.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            response = post(p.clients[function], make(field))
        where = f"{case} at {function}"
        assert response.status_code == 200, (where, response.get_data(as_text=True)[:300])
        reasons = [r.reason for r in caplog.records if getattr(r, "reason", None)]
        assert reasons, f"{where}: no reason logged"
        assert snapshot(conn) == before, where
    assert p.bus.published == []


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("poison", list(DATA_POISONS))
def test_poison_message_data(world, caplog, poison, shape):
    def make(field: str) -> Delivery:
        return SHAPES[shape](pubsub_message(DATA_POISONS[poison](field)))

    _check_acknowledged(world, caplog, make, f"{shape}: {poison}")


@pytest.mark.parametrize("poison", list(ENVELOPE_POISONS))
def test_poison_envelope(world, caplog, poison):
    _check_acknowledged(world, caplog, ENVELOPE_POISONS[poison], poison)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_good_message_does_change_the_world(conn, fresh, shape):
    """The oracle is sensitive: id 1 is claimable at every entry point."""
    for function, field in ENTRY_POINTS.items():
        before = snapshot(conn)
        delivery = SHAPES[shape](pubsub_message(b64_json({field: 1})))
        response = post(fresh.clients[function], delivery)
        assert response.status_code == 200, function
        assert snapshot(conn) != before, function


def test_a_genuine_server_error_is_still_not_acknowledged(conn, fresh):
    conn.execute("update ssml_jobs set due_at = now() + interval '1 hour'")
    for shape in SHAPES.values():
        response = post(fresh.clients["ssml"], shape(pubsub_message(b64_json({"feedback_id": 1}))))
        assert response.status_code == 429  # not due yet: Pub/Sub redelivers later


def test_case_counts():
    assert len(DATA_POISONS) * len(SHAPES) + len(ENVELOPE_POISONS) >= 30
