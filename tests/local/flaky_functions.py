"""CloudEvent functions for the local-delivery tests, loaded by functions-framework from this
file: `flaky` raises until a message has been delivered `fail_times` + 1 times (its data
says how many), `broken` always raises. Each delivery's time is recorded per message."""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict

import functions_framework

DELIVERIES: dict[str, list[float]] = defaultdict(list)


@functions_framework.cloud_event
def flaky(event) -> None:
    message = event.data["message"]
    body = json.loads(base64.b64decode(message["data"]))
    DELIVERIES[body["name"]].append(time.monotonic())
    if len(DELIVERIES[body["name"]]) <= body["fail_times"]:
        raise RuntimeError(f"delivery {len(DELIVERIES[body['name']])} fails on purpose")


@functions_framework.cloud_event
def broken(event) -> None:
    body = json.loads(base64.b64decode(event.data["message"]["data"]))
    DELIVERIES[body["name"]].append(time.monotonic())
    raise RuntimeError("always fails")
