"""Local Pub/Sub: messages held in memory and delivered, as real Pub/Sub CloudEvents, to the
same entry points through functions-framework — with Pub/Sub's semantics where they matter:
redelivery with exponential backoff when the function fails, and a dead-letter list after
`max_deliveries` attempts."""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.messages import PUBSUB_EVENT_TYPE


@dataclass(order=True)
class Envelope:
    due: float
    seq: int
    topic: str = field(compare=False)
    data: bytes = field(compare=False)
    attributes: dict[str, str] = field(compare=False, default_factory=dict)
    message_id: str = field(compare=False, default="")
    deliveries: int = field(compare=False, default=0)


def cloud_event(topic: str, envelope: Envelope) -> tuple[dict[str, str], bytes]:
    """A structured-mode Pub/Sub CloudEvent as Eventarc posts it: (headers, body)."""
    body = {
        "specversion": "1.0",
        "id": f"{envelope.message_id}-{envelope.deliveries}",
        "source": f"//pubsub.googleapis.com/projects/local/topics/{topic}",
        "type": PUBSUB_EVENT_TYPE,
        "datacontenttype": "application/json",
        "time": datetime.now(UTC).isoformat(),
        "data": {
            "message": {
                "data": base64.b64encode(envelope.data).decode("ascii"),
                "attributes": envelope.attributes,
                "messageId": envelope.message_id,
                "publishTime": datetime.now(UTC).isoformat(),
            },
            "subscription": f"projects/local/subscriptions/{topic}-push",
        },
    }
    return {"Content-Type": "application/cloudevents+json"}, json.dumps(body).encode()


class LocalPubSub:
    """An in-memory topic bus. `publish` never blocks on delivery; the caller's worker
    threads push messages to subscribers with `deliver_one` (shared/local/runtime.py)."""

    def __init__(
        self,
        *,
        max_deliveries: int = 5,
        min_backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
    ) -> None:
        self.max_deliveries = max_deliveries
        self.min_backoff_s, self.max_backoff_s = min_backoff_s, max_backoff_s
        self.subscribers: dict[str, Callable[[dict[str, str], bytes], bool]] = {}
        self.published: list[tuple[str, dict[str, object]]] = []
        self.dead_letters: list[Envelope] = []
        self._queue: list[Envelope] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._in_flight = 0

    def subscribe(self, topic: str, push: Callable[[dict[str, str], bytes], bool]) -> None:
        """`push(headers, body)` delivers one event and returns True on acknowledgement."""
        self.subscribers[topic] = push

    def publish(
        self,
        topic: str,
        messages: Sequence[Mapping[str, object]],
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        with self._cond:
            for message in messages:
                self.published.append((topic, dict(message)))
                envelope = Envelope(
                    time.monotonic() + self.delay_s(),
                    next(self._seq),
                    topic,
                    json.dumps(message).encode(),
                    dict(attributes or {}),
                    uuid.uuid4().hex,
                )
                heapq.heappush(self._queue, envelope)
            self._cond.notify_all()

    def delay_s(self) -> float:
        """How long a new message waits before its first delivery (a test hook)."""
        return 0.0

    def backoff(self, deliveries: int) -> float:
        return min(self.max_backoff_s, self.min_backoff_s * 2.0 ** (deliveries - 1))

    def deliver_one(self, timeout: float = 0.1) -> bool:
        """Deliver the next due message, if any within `timeout`; False when none was."""
        with self._cond:
            deadline = time.monotonic() + timeout
            while not self._queue or self._queue[0].due > time.monotonic():
                wait = deadline - time.monotonic()
                if self._queue:
                    wait = min(wait, self._queue[0].due - time.monotonic())
                if deadline <= time.monotonic():
                    return False
                self._cond.wait(max(wait, 0.001))
            envelope = heapq.heappop(self._queue)
            self._in_flight += 1
        try:
            self._push(envelope)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
        return True

    def _push(self, envelope: Envelope) -> None:
        envelope.deliveries += 1
        push = self.subscribers.get(envelope.topic)
        acked = push is None or push(*cloud_event(envelope.topic, envelope))
        if acked:
            return
        with self._cond:
            if envelope.deliveries >= self.max_deliveries:
                self.dead_letters.append(envelope)
                return
            envelope.due = time.monotonic() + self.backoff(envelope.deliveries)
            heapq.heappush(self._queue, envelope)
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._in_flight

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight
