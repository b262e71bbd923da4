"""The local Pub/Sub bus delivers real CloudEvents through functions-framework, redelivers
with growing delays when the function raises, and dead-letters after N attempts; with
several workers it delivers concurrently."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import functions_framework

from shared.adapters.local_pubsub import LocalPubSub
from tests.bus import deliver_until_idle

SOURCE = str(Path(__file__).with_name("flaky_functions.py"))


def _pusher(target: str):
    client = functions_framework.create_app(target, SOURCE).test_client()

    def push(headers, body) -> bool:
        return 200 <= client.post("/", data=body, headers=headers).status_code < 300

    return push


def _recorded(name: str) -> list[float]:
    for module in list(sys.modules.values()):
        deliveries = getattr(module, "DELIVERIES", None)
        if isinstance(deliveries, dict) and name in deliveries:
            return deliveries[name]
    return []


def test_a_function_that_raises_twice_is_delivered_three_times_with_growing_delays():
    bus = LocalPubSub(max_deliveries=5, min_backoff_s=0.1, max_backoff_s=2.0)
    bus.subscribe("t", _pusher("flaky"))
    bus.publish("t", [{"name": "twice", "fail_times": 2}])
    deliver_until_idle(bus, timeout=10)
    times = _recorded("twice")
    assert len(times) == 3
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert first_gap >= 0.1
    assert second_gap >= 0.2
    assert second_gap > first_gap
    assert bus.dead_letters == []


def test_a_function_that_always_raises_ends_in_the_dead_letter_list():
    bus = LocalPubSub(max_deliveries=4, min_backoff_s=0.01, max_backoff_s=0.05)
    bus.subscribe("t", _pusher("broken"))
    bus.publish("t", [{"name": "never", "fail_times": 0}])
    deliver_until_idle(bus, timeout=10)
    assert len(_recorded("never")) == 4
    assert [e.deliveries for e in bus.dead_letters] == [4]
    assert bus.idle()


def test_workers_deliver_concurrently():
    bus = LocalPubSub()
    inside, peak, lock = 0, 0, threading.Lock()

    def slow_push(headers, body) -> bool:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        time.sleep(0.1)
        with lock:
            inside -= 1
        return True

    bus.subscribe("t", slow_push)
    bus.publish("t", [{"n": i} for i in range(8)])
    workers = [threading.Thread(target=deliver_until_idle, args=(bus,)) for _ in range(4)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert peak == 4
    assert time.monotonic() - started < 0.6  # 8 of 0.1 s one at a time would be 0.8 s
