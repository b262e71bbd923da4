"""cuecast's side of the benchmarks: the real entry points (main.ssml, main.audio) called
with Pub/Sub CloudEvents by worker threads that take doorbells from a queue — what Pub/Sub
push and Cloud Functions do for the deployed functions, minus the HTTP hop.

The App is the real one (shared.bootstrap.App with make_pool's pool, the real stages and
TopicGuard); only the providers, storage and publisher are the bench's doubles.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from cloudevents.http import CloudEvent
from psycopg_pool import ConnectionPool

import main
from bench.doubles import DoorbellQueue, InstantSsmlWriter, InstantSynthesizer, MemoryStorage
from shared import bootstrap
from shared.bootstrap import App
from shared.domain import Stage
from shared.messages import PUBSUB_EVENT_TYPE, encode
from shared.pool import make_pool
from shared.ports import SpeechSynthesizer, SsmlWriter, Storage
from shared.settings import Settings


def cloud_event(topic: str, data: bytes) -> CloudEvent:
    """A Pub/Sub CloudEvent as Eventarc delivers it (structured mode, decoded)."""
    message_id = uuid.uuid4().hex
    return CloudEvent(
        {
            "type": PUBSUB_EVENT_TYPE,
            "source": f"//pubsub.googleapis.com/projects/bench/topics/{topic}",
            "id": message_id,
        },
        {
            "message": {"data": base64.b64encode(data).decode("ascii"), "messageId": message_id},
            "subscription": f"projects/bench/subscriptions/{topic}-push",
        },
    )


def warm(pool: ConnectionPool[Any], size: int) -> None:
    """Open `size` connections now, so pool growth is not timed."""
    held = [pool.getconn() for _ in range(size)]
    for conn in held:
        pool.putconn(conn)


class CuecastWorkers:
    """`concurrency` threads running the ssml and audio functions on doorbells."""

    def __init__(
        self,
        url: str,
        concurrency: int,
        *,
        writer: SsmlWriter | None = None,
        synthesizer: SpeechSynthesizer | None = None,
        storage: Storage | None = None,
        pool: ConnectionPool[Any] | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.settings = Settings(DATABASE_URL=url, CUECAST_DB_POOL_MAX_SIZE=concurrency)
        self.bus = DoorbellQueue()
        self.pool = pool or make_pool(
            url, max_size=concurrency, statement_timeout_ms=self.settings.statement_timeout_ms
        )
        warm(self.pool, concurrency)
        self.app = App(
            self.settings,
            pool=self.pool,
            publisher=self.bus,
            ssml_writer=writer or InstantSsmlWriter(),
            synthesizer=synthesizer or InstantSynthesizer(),
            storage=storage or MemoryStorage(),
        )
        self.entry: dict[str, Callable[[CloudEvent], None]] = {
            self.settings.topic(Stage.SSML): main.ssml,
            self.settings.topic(Stage.AUDIO): main.audio,
        }
        self.redeliveries = 0
        self.dropped = 0

    def run(
        self,
        feedback_ids: Iterable[int],
        *,
        first: Stage = Stage.SSML,
        last: Stage = Stage.AUDIO,
        on_start: Callable[[], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> float:
        """Ring one `first`-stage doorbell per item (as start-analysis does after its commit)
        and work until `last`'s function has run once per item; returns the seconds taken.

        Doorbells for stages outside first..last are dropped: `first=last=Stage.SSML` runs
        the ssml stage alone, `first=last=Stage.AUDIO` the audio stage alone. `on_start`
        and `on_done` are called just before the first doorbell and just after the last
        item (e.g. a CpuMeter's start and stop)."""
        ids = list(feedback_ids)
        chain = [Stage.SSML, Stage.AUDIO]
        topics = {self.settings.topic(s) for s in chain[chain.index(first) : chain.index(last) + 1]}
        final = self.settings.topic(last)
        done = threading.Event()
        lock = threading.Lock()
        count = [0]

        def work() -> None:
            while (item := self.bus.queue.get()) is not None:
                topic, data = item
                if topic not in topics:
                    self.dropped += 1
                    continue
                try:
                    self.entry[topic](cloud_event(topic, data))
                except Exception:  # raising asks Pub/Sub to redeliver: so do we
                    self.redeliveries += 1
                    self.bus.queue.put(item)
                    continue
                if topic == final:
                    with lock:
                        count[0] += 1
                        if count[0] == len(ids):
                            done.set()

        previous = bootstrap.install(self.app)
        threads = [
            threading.Thread(target=work, name=f"worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        try:
            if on_start:
                on_start()
            start = time.perf_counter()
            self.bus.publish(self.settings.topic(first), [encode(first, i) for i in ids])
            if ids and not done.wait(timeout=max(120.0, len(ids) * 0.1)):
                raise TimeoutError(f"{count[0]} of {len(ids)} items done")
            seconds = time.perf_counter() - start
            if on_done:
                on_done()
            return seconds
        finally:
            for _ in threads:
                self.bus.queue.put(None)
            for thread in threads:
                thread.join(10)
            bootstrap.install(previous)

    def close(self) -> None:
        self.pool.close()
