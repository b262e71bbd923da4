"""Raw Pub/Sub deliveries in the three shapes an entry point receives, and a snapshot of
every table a delivery could change.

A delivery is the HTTP request itself (headers and body bytes), so a test can send what no
well-behaved client would: a body that is not JSON, a CloudEvent without a type, an envelope
without `message`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import psycopg
from psycopg import sql

from shared.messages import PUBSUB_EVENT_TYPE

Delivery = tuple[dict[str, str], bytes]

SUBSCRIPTION = "projects/p/subscriptions/s"
CE_JSON = "application/cloudevents+json"
STORAGE_EVENT_TYPE = "google.cloud.storage.object.v1.finalized"


def b64(raw: bytes | str) -> str:
    return base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode()


def b64_json(value: object) -> str:
    return b64(json.dumps(value))


def pubsub_message(data: object, **fields: object) -> dict[str, object]:
    """A Pub/Sub message as push and Eventarc carry it; `data` is used as given."""
    return {"data": data, "messageId": "m1", "publishTime": "2026-01-01T00:00:00Z", **fields}


def cloud_event(data: object, *, type_: str = PUBSUB_EVENT_TYPE, **attrs: object) -> dict:
    return {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "//pubsub.googleapis.com/projects/p/topics/t",
        "type": type_,
        "datacontenttype": "application/json",
        "data": data,
        **attrs,
    }


def as_json(value: object) -> bytes:
    return json.dumps(value).encode()


def structured(message: object, *, type_: str = PUBSUB_EVENT_TYPE) -> Delivery:
    """An Eventarc CloudEvent in structured mode (the whole event is the JSON body)."""
    event = cloud_event({"message": message, "subscription": SUBSCRIPTION}, type_=type_)
    return {"Content-Type": CE_JSON}, as_json(event)


def binary_headers(*, type_: str = PUBSUB_EVENT_TYPE, specversion: str = "1.0") -> dict:
    return {
        "ce-specversion": specversion,
        "ce-id": "evt-1",
        "ce-source": "//pubsub.googleapis.com/projects/p/topics/t",
        "ce-type": type_,
        "Content-Type": "application/json",
    }


def binary(message: object, *, type_: str = PUBSUB_EVENT_TYPE) -> Delivery:
    """An Eventarc CloudEvent in binary mode (attributes in ce- headers, data as the body)."""
    body = as_json({"message": message, "subscription": SUBSCRIPTION})
    return binary_headers(type_=type_), body


def push(message: object) -> Delivery:
    """A plain push subscription's envelope, which functions-framework converts."""
    body = as_json({"message": message, "subscription": SUBSCRIPTION})
    return {"Content-Type": "application/json"}, body


SHAPES = {"structured": structured, "binary": binary, "push": push}


def post(client: Any, delivery: Delivery) -> Any:
    headers, body = delivery
    return client.post("/", data=body, headers=headers)


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    """Every row of every public table, as JSON text (columns such as updated_at included)."""
    tables = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1"
    ).fetchall()
    found = {}
    for (table,) in tables:
        query = sql.SQL("select to_jsonb(t)::text from {} t order by 1").format(
            sql.Identifier("public", table)
        )
        found[table] = [row[0] for row in conn.execute(query)]
    return found
