"""Driving the local Pub/Sub bus from a test: deliver on this thread until it is idle."""

from __future__ import annotations

import time

from shared.adapters.local_pubsub import LocalPubSub


def deliver_until_idle(bus: LocalPubSub, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not bus.idle():
        if time.monotonic() > deadline:
            raise TimeoutError(f"local Pub/Sub still has {bus.pending()} messages")
        bus.deliver_one(0.05)
