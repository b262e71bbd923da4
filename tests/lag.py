"""The reconciler against a bus that lags: items' ssml doorbells published at once, each
message held `lag_s` by the bus before its first delivery (and `delivery_s` per delivery),
the real entry points behind the local runtime, and reconcilers sweeping every `sweep_s`
with a doorbell grace of `grace_s` — or none. It counts the doorbells published (the
reconciler's probes apart) and times the drain. tests/local/test_reconcile_lag.py runs it
small; bench/reconcile.py at the issue's size."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from shared.adapters.local_pubsub import LocalPubSub
from shared.adapters.local_storage import LocalStorage
from shared.adapters.ssml_builder import SsmlBuilder
from shared.bootstrap import App
from shared.domain import Stage
from shared.local.runtime import LocalRuntime, Push
from shared.messages import encode
from shared.queue import QueuePolicy
from shared.services.reconciler import reconcile
from shared.settings import Settings
from tests.chaos.faults import ToneSynthesizer
from tests.db.helpers import add_feedback, analysis_job


class LaggingBus(LocalPubSub):
    """Every message waits `lag_s` before its first delivery, in publish order; when each
    doorbell was published is kept (seconds on the monotonic clock)."""

    def __init__(self, lag_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lag_s = lag_s
        self.times: list[tuple[float, str, dict[str, object]]] = []

    def delay_s(self) -> float:
        return self.lag_s

    def publish(
        self,
        topic: str,
        messages: Sequence[Mapping[str, object]],
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        now = time.monotonic()
        self.times += [(now, topic, dict(m)) for m in messages if "probe" not in m]
        super().publish(topic, messages, attributes)


@dataclass
class LagRun:
    items: int
    doorbells: int  # stage messages published: the first ones and every re-ring
    needed: int  # one ssml and one audio doorbell per item
    probes: int
    drain_s: float
    rings: dict[int, int]  # feedback id → ssml doorbells it got
    lost: list[int]  # the items whose first doorbell was never published
    rung_after_s: list[float]  # when each lost one was rung, since the start

    @property
    def amplification(self) -> float:
        return self.doorbells / self.needed


def _slow(delivery_s: float) -> Any:
    def wrap(name: str, push: Push) -> Push:
        def slow(headers: dict[str, str], body: bytes) -> bool:
            time.sleep(delivery_s)
            return push(headers, body)

        return slow if delivery_s else push

    return wrap


def run_lagging(
    db_url: str,
    workdir: Path,
    *,
    items: int,
    lag_s: float,
    grace_s: float,
    sweep_s: float | None,
    delivery_s: float = 0.0,
    workers: int = 4,
    reconcilers: int = 1,
    lose: int = 0,
    timeout_s: float = 300.0,
) -> LagRun:
    """One run; `lose` of the first doorbells are never published (lost)."""
    settings = Settings(
        DATABASE_URL=db_url,
        CUECAST_HOME=str(workdir / ".cuecast"),
        WEBHOOK_SECRET=secrets.token_urlsafe(24),
        CUECAST_DB_POOL_MAX_SIZE=workers + reconcilers + 2,
    )
    bus = LaggingBus(lag_s, max_deliveries=50)
    app = App(
        settings,
        publisher=bus,
        storage=LocalStorage(workdir / "storage"),
        ssml_writer=SsmlBuilder(),
        synthesizer=ToneSynthesizer(),
    )
    policy = QueuePolicy(doorbell_grace_seconds=grace_s)
    with psycopg.connect(db_url, autocommit=True) as conn:
        _, _, job_id = analysis_job(conn)
        conn.execute("update analysis_jobs set status = 'completed'")
        conn.execute("delete from net.http_request_queue")  # no webhook in this scenario
        ids = [add_feedback(conn, job_id, i, f"Item {i}: elbows in.") for i in range(items)]
        stop = threading.Event()

        def sweep() -> None:
            assert sweep_s is not None
            while not stop.wait(sweep_s):
                reconcile(app.database, bus, app.topics(), policy)

        sweepers = [threading.Thread(target=sweep, daemon=True) for _ in range(reconcilers)]
        try:
            with LocalRuntime(app, workers=workers, wrap_push=_slow(delivery_s)):
                started = time.monotonic()
                topic = app.settings.topic(Stage.SSML)
                bus.publish(topic, [encode(Stage.SSML, fid) for fid in ids[lose:]])
                if sweep_s is not None:
                    for thread in sweepers:
                        thread.start()
                _wait_drained(conn, bus, ids, started + timeout_s)
                drain_s = time.monotonic() - started
        finally:
            stop.set()
            for thread in sweepers:
                if thread.is_alive():
                    thread.join()
            app.close()
    ssml_topic = app.settings.topic(Stage.SSML)
    rings = {fid: 0 for fid in ids}
    rung_after: dict[int, float] = {}
    for at, topic, message in bus.times:
        if topic == ssml_topic:
            fid = int(message["feedback_id"])  # type: ignore[call-overload]
            rings[fid] += 1
            rung_after.setdefault(fid, at - started)
    return LagRun(
        items=items,
        doorbells=len(bus.times),
        needed=2 * items,
        probes=len(bus.published) - len(bus.times),
        drain_s=drain_s,
        rings=rings,
        lost=ids[:lose],
        rung_after_s=[rung_after[fid] for fid in ids[:lose] if fid in rung_after],
    )


def _wait_drained(
    conn: psycopg.Connection[Any], bus: LocalPubSub, ids: list[int], deadline: float
) -> None:
    query = (
        "select count(*) from analysis_feedback where id = any(%s) and audio_status = 'completed'"
    )
    while True:
        row = conn.execute(query, (ids,)).fetchone()
        if row is not None and row[0] == len(ids):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{row} of {len(ids)} items done; bus holds {bus.pending()}")
        time.sleep(0.02)
