"""The faults a chaos run injects, each counted: duplicated, dropped and reordered messages
(ChaosBus), transient provider errors (Flaky), a permanent speech failure part-way through
some long items (Doomed: their audio jobs end failed after earlier segments were uploaded),
worker processes killed between claim and
finish (die_mid_job, run in a forkserver child that SIGKILLs itself inside the provider
call), and connections cut with pg_terminate_backend (terminate_connections)."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import signal
import threading
import wave
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import psycopg

from shared.adapters.local_pubsub import LocalPubSub
from shared.domain import Analysis, FeedbackItem, Speech, Voice
from shared.errors import PermanentError, TransientError

Push = Callable[[dict[str, str], bytes], bool]


class Chaos:
    """A seeded random generator and the count of every fault it injected."""

    def __init__(self, seed: int, rates: Mapping[str, float]) -> None:
        self.seed, self.rates = seed, dict(rates)
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def hit(self, fault: str) -> bool:
        with self._lock:
            if self.rng.random() < self.rates.get(fault, 0.0):
                self.counts[fault] += 1
                return True
            return False

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] += n

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self.rng.uniform(low, high)


def message_id(body: bytes) -> tuple[str, int] | None:
    """(id field, id) of the doorbell inside a structured Pub/Sub CloudEvent."""
    event = json.loads(body)
    data = json.loads(base64.b64decode(event["data"]["message"]["data"]))
    return next(iter(data.items())) if isinstance(data, dict) and data else None


class ChaosBus(LocalPubSub):
    """The local bus with Pub/Sub's bad days: drops, duplicates, and random delays that
    reorder deliveries (counted when a message overtakes one published before it)."""

    def __init__(self, chaos: Chaos, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chaos = chaos
        self._order: dict[tuple[str, str], int] = {}
        self._delivered_max: dict[str, int] = {}
        self._order_lock = threading.Lock()

    def publish(
        self,
        topic: str,
        messages: Sequence[Mapping[str, object]],
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        for message in messages:
            with self._order_lock:
                self._order.setdefault((topic, json.dumps(message)), len(self._order))
            if self.chaos.hit("dropped"):
                continue
            copies = 2 if self.chaos.hit("duplicated") else 1
            for _ in range(copies):
                super().publish(topic, [message], attributes)

    def delay_s(self) -> float:
        return self.chaos.uniform(0.0, 0.05)

    def note_delivery(self, topic: str, body: bytes) -> None:
        found = message_id(body)
        if found is None:
            return
        key = (topic, json.dumps(dict([found])))
        with self._order_lock:
            index = self._order.get(key, -1)
            latest = self._delivered_max.get(topic, -1)
            if index < latest:
                self.chaos.count("reordered")
            self._delivered_max[topic] = max(latest, index)


class Flaky:
    """A provider that raises a transient error on a share of its calls."""

    def __init__(self, inner: Any, chaos: Chaos) -> None:
        self.inner, self.chaos = inner, chaos
        self.max_concurrency = getattr(inner, "max_concurrency", 1)

    def _maybe_fail(self) -> None:
        if self.chaos.hit("transient"):
            raise TransientError("injected transient provider error (HTTP 503)")

    def analyze(self, video: Any, **kwargs: Any) -> Analysis:
        self._maybe_fail()
        return self.inner.analyze(video, **kwargs)  # type: ignore[no-any-return]

    def write(self, message: str, **kwargs: Any) -> Any:
        self._maybe_fail()
        return self.inner.write(message, **kwargs)

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        self._maybe_fail()
        return self.inner.synthesize(ssml, voice)  # type: ignore[no-any-return]


DOOMED = "Doomed"  # a sentence text-to-speech refuses for good (see Doomed)


def doomed(index: int) -> bool:
    """Every sixteenth item is doomed: its audio job ends failed."""
    return index % 16 == 15


def _message(index: int) -> str:
    if doomed(index):  # long: its first segments speak, a later one does not
        first = f"Item {index}: keep your elbows in. " * 110
        return (first + f"{DOOMED} item {index}: elbows in. " * 110).strip()
    return (f"Item {index}: keep your elbows in. " * (220 if index % 8 == 7 else 1)).strip()


class ScriptedAnalyzer:
    """Reads the whole video stream, then returns `items` feedback items; every eighth
    message is long enough to need two or more SSML segments, and every sixteenth is doomed
    (its later segments cannot be spoken)."""

    def __init__(self, items: int = 16) -> None:
        self.items = items

    def analyze(self, video: Any, *, size: int, content_type: str, voice: Voice) -> Analysis:
        read = sum(len(chunk) for chunk in iter(lambda: video.read(1 << 20), b""))
        assert read == size, (read, size)
        items = tuple(
            FeedbackItem(
                timestamp_seconds=round(i * 5.9 / self.items, 2),  # within the 6 s video
                category="pacing",
                message=_message(i),
                confidence=0.9,
                impact=0.5,
            )
            for i in range(self.items)
        )
        return Analysis(duration_seconds=6.0, items=items, provider="chaos", model="scripted")


def _tone_wav(ms: int = 60) -> bytes:
    rate = 16_000
    t = np.arange(rate * ms // 1000) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


class ToneSynthesizer:
    """A quick real WAV per segment (the chaos run measures delivery, not speech)."""

    max_concurrency = 4
    audio = _tone_wav()

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        return Speech(self.audio, "wav", "audio/wav", 60, "chaos", "tone-1")


class Doomed:
    """A speech provider that refuses the doomed sentences for good (a 400: permanent), so
    the other segments of the item are uploaded and then the job fails."""

    def __init__(self, inner: Any, chaos: Chaos) -> None:
        self.inner, self.chaos = inner, chaos
        self.max_concurrency = getattr(inner, "max_concurrency", 1)

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        if DOOMED in ssml:
            self.chaos.count("permanent speech failures")
            raise PermanentError("injected permanent text-to-speech refusal (HTTP 400)")
        return self.inner.synthesize(ssml, voice)  # type: ignore[no-any-return]


class Die:
    """A provider whose call kills the process it runs in: a worker dying mid-job."""

    max_concurrency = 1

    def _die(self, *args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)

    analyze = write = synthesize = _die


class NoPublish:
    def publish(self, topic: str, messages: Any, attributes: Any = None) -> None:
        raise RuntimeError("a dying worker publishes nothing")


def die_mid_job(spec: dict[str, Any]) -> None:
    """In a child process: run one delivery through the real entry point with providers
    that SIGKILL the process once the job is claimed. Exits 0 (ack) or 1 (nack) if the
    claim found nothing to do."""
    import functions_framework

    from shared import bootstrap
    from shared.bootstrap import App
    from shared.local.runtime import main_source
    from shared.settings import Settings

    die = Die()
    app = App(
        Settings(**spec["settings"]),
        analyzer=die,
        ssml_writer=die,
        synthesizer=die,
        publisher=NoPublish(),
    )
    bootstrap.install(app)
    client = functions_framework.create_app(spec["target"], main_source()).test_client()
    status = client.post("/", data=spec["body"].encode(), headers=spec["headers"]).status_code
    app.close()
    os._exit(0 if 200 <= status < 300 else 1)


def terminate_connections(url: str, protect: set[int]) -> int:
    """Cut every connection to the database of `url` except `protect` and our own."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
            " and not (pid = any(%s))",
            (list(protect),),
        ).fetchall()
    return sum(1 for (done,) in rows if done)
