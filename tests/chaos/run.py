"""A chaos run: videos from upload to audio through the real entry points while the
delivery misbehaves (tests/chaos/faults.py), with the reconcile function swept like Cloud
Scheduler would, until the tables are quiet; then the invariants are checked.

By hand, bigger (a scratch database on the test server, dropped afterwards):

    .venv/bin/python -m tests.chaos.run --videos 100 --items 30 [--seed N] [--db-faults]
"""

from __future__ import annotations

import argparse
import multiprocessing
import secrets
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from shared.adapters.local_storage import LocalStorage
from shared.adapters.ssml_builder import SsmlBuilder
from shared.bootstrap import App
from shared.domain import Stage
from shared.local.runtime import LocalRuntime
from shared.ports import PROCESSED_BUCKET, RAW_BUCKET
from shared.sample_video import write_sample_video
from shared.settings import Settings
from tests.chaos import faults
from tests.chaos.faults import (
    Chaos,
    ChaosBus,
    Doomed,
    Flaky,
    Push,
    ScriptedAnalyzer,
    ToneSynthesizer,
    doomed,
)
from tests.supa import complete_upload, create_user, insert_video, set_webhook_secrets

RATES = {"duplicated": 0.20, "dropped": 0.10, "kill": 0.05, "transient": 0.05}
TOPIC_OF = {"start_analysis": Stage.ANALYSIS, "ssml": Stage.SSML, "audio": Stage.AUDIO}


@dataclass
class ChaosConfig:
    seed: int
    videos: int = 20
    items_per_video: int = 16
    workers: int = 4
    max_attempts: int = 10
    lease_seconds: int = 2
    terminate_every_s: float | None = None  # database faults: cut every connection
    terminations: int = 4
    timeout_s: float = 300.0


@dataclass
class ChaosReport:
    seed: int
    seconds: float
    counts: dict[str, int]
    checked: list[str] = field(default_factory=list)

    def print(self) -> None:
        print(f"chaos seed {self.seed}: {self.seconds:.1f} s")
        for name, count in sorted(self.counts.items()):
            print(f"  injected/seen {name:<22} {count}")
        for line in self.checked:
            print(f"  checked {line}")


def _killer(topics: dict[str, str], settings: dict[str, Any], chaos: Chaos) -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.chaos.faults", "functions_framework", "main"])

    def wrap(name: str, push: Push) -> Push:
        def chaotic(headers: dict[str, str], body: bytes) -> bool:
            bus: ChaosBus = chaotic.bus  # type: ignore[attr-defined]
            bus.note_delivery(topics[name], body)
            if not chaos.hit("kill"):
                return push(headers, body)
            spec = {"settings": settings, "target": name, "headers": headers, "body": body.decode()}
            child = context.Process(target=faults.die_mid_job, args=(spec,))
            child.start()
            child.join()
            if child.exitcode == -signal.SIGKILL:
                chaos.count("killed mid-job")
                return False  # no answer: Pub/Sub redelivers after the ack deadline
            chaos.count("kill found nothing to claim")
            return child.exitcode == 0

        return chaotic

    return wrap


def _seed(conn: psycopg.Connection[Any], storage: LocalStorage, video: bytes, n: int) -> None:
    for i in range(n):
        user = create_user(conn)
        video_id = insert_video(conn, user, name=f"take-{i}.mp4")
        storage.upload(RAW_BUCKET, f"{user}/take-{i}.mp4", video, "video/mp4")
        complete_upload(conn, user, video_id)


def _quiet(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "select (select count(*) from analysis_jobs where status in ('queued', 'processing'))"
        " + (select count(*) from ssml_jobs where status in ('queued', 'processing'))"
        " + (select count(*) from audio_jobs where status in ('queued', 'processing'))"
        " + (select count(*) from analysis_feedback"
        "    where ssml_status not in ('completed', 'failed', 'skipped')"
        "       or audio_status not in ('completed', 'failed', 'skipped'))"
    ).fetchone()
    return row is not None and row[0] == 0


@contextmanager
def _every(seconds: float, action: Any, times: int | None = None) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        done = 0
        while not stop.wait(seconds) and (times is None or done < times):
            action()
            done += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def run_chaos(db_url: str, workdir: Path, config: ChaosConfig) -> ChaosReport:
    started = time.monotonic()
    chaos = Chaos(config.seed, RATES)
    print(f"chaos seed {config.seed} (rerun with --seed {config.seed})")
    env = {
        "DATABASE_URL": db_url,
        "CUECAST_STORAGE_DIR": str(workdir / "storage"),
        "WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "CUECAST_MAX_ATTEMPTS": config.max_attempts,
        "CUECAST_LEASE_SECONDS": config.lease_seconds,
        "CUECAST_BACKOFF_BASE_SECONDS": 0.05,
        "CUECAST_BACKOFF_CAP_SECONDS": 0.5,
        "CUECAST_DOORBELL_GRACE_SECONDS": 3,  # longer than a busy bus takes to deliver
        "CUECAST_DB_POOL_MAX_SIZE": 8,
        "CUECAST_STATEMENT_TIMEOUT_MS": 10_000,
    }
    bus = ChaosBus(chaos, max_deliveries=12, min_backoff_s=0.02, max_backoff_s=0.5)
    storage = LocalStorage(workdir / "storage")
    app = App(
        Settings(**env),
        publisher=bus,
        storage=storage,
        analyzer=Flaky(ScriptedAnalyzer(config.items_per_video), chaos),
        ssml_writer=Flaky(SsmlBuilder(), chaos),
        synthesizer=Doomed(Flaky(ToneSynthesizer(), chaos), chaos),
    )
    topics = {name: app.settings.topic(stage) for name, stage in TOPIC_OF.items()}
    wrap = _killer(topics, env, chaos)
    video = write_sample_video(workdir / "sample.mp4").read_bytes()
    runtime = LocalRuntime(app, workers=config.workers, wrap_push=_bind(wrap, bus))

    with psycopg.connect(db_url, autocommit=True) as conn:
        protect = {conn.info.backend_pid}

        def reconcile() -> None:
            status = runtime.call("reconcile", {}, b"")
            chaos.count("reconcile passes" if status == 200 else "reconcile passes failed")

        def cut() -> None:
            chaos.count("connections terminated", faults.terminate_connections(db_url, protect))

        set_webhook_secrets(conn, "http://127.0.0.1/webhook", env["WEBHOOK_SECRET"])
        try:
            with runtime, _every(1.0, reconcile):
                _seed(conn, storage, video, config.videos)
                cutting = (
                    _every(config.terminate_every_s, cut, config.terminations)
                    if config.terminate_every_s
                    else _nothing()
                )
                with cutting:
                    _wait_until_quiet(conn, bus, config.timeout_s)
        finally:
            app.close()
        chaos.count("dead-lettered", len(bus.dead_letters))
        report = ChaosReport(config.seed, time.monotonic() - started, dict(chaos.counts))
        report.checked = check_invariants(conn, storage, config)
    return report


def _bind(wrap: Any, bus: ChaosBus) -> Any:
    def bound(name: str, push: Push) -> Push:
        chaotic = wrap(name, push)
        chaotic.bus = bus
        return chaotic  # type: ignore[no-any-return]

    return bound


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _wait_until_quiet(conn: psycopg.Connection[Any], bus: ChaosBus, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while quiet_since is None or time.monotonic() - quiet_since < 1.0:
        if time.monotonic() > deadline:
            counts = conn.execute(
                "select 'ssml', status, count(*) from ssml_jobs group by status union all"
                " select 'audio', status, count(*) from audio_jobs group by status union all"
                " select 'analysis', status, count(*) from analysis_jobs group by status"
            ).fetchall()
            raise TimeoutError(f"not quiet after {timeout_s:g} s: {counts}")
        try:
            quiet = bus.idle() and _quiet(conn)
        except psycopg.OperationalError:
            quiet = False
        quiet_since = (quiet_since or time.monotonic()) if quiet else None
        time.sleep(0.2)


def check_invariants(
    conn: psycopg.Connection[Any], storage: LocalStorage, config: ChaosConfig
) -> list[str]:
    checked: list[str] = []
    items = config.videos * config.items_per_video
    lost = config.videos * sum(1 for i in range(config.items_per_video) if doomed(i))
    jobs = conn.execute("select status, count(*) from analysis_jobs group by status").fetchall()
    assert jobs == [("completed", config.videos)], jobs
    checked.append(f"{config.videos} analysis jobs completed")
    statuses = conn.execute(
        "select ssml_status, audio_status, count(*) from analysis_feedback group by 1, 2 order by 2"
    ).fetchall()
    expected = [("completed", "completed", items - lost)] + (
        [("completed", "failed", lost)] if lost else []
    )
    assert statuses == expected, statuses
    checked.append(f"{items - lost} feedback items completed in both statuses, {lost} doomed")
    for table, failed in (("analysis_jobs", 0), ("ssml_jobs", 0), ("audio_jobs", lost)):
        row = conn.execute(
            f"select count(*) filter (where status <> 'completed'),"
            f" count(*) filter (where status = 'failed'), max(attempts) from {table}"
        ).fetchone()
        assert row is not None and row[0] == row[1] == failed, (table, row)
        assert row[2] <= config.max_attempts, (table, row)
        checked.append(
            f"{table}: {failed} failed, none left queued/processing, attempts <= {row[2]}"
        )
    gaps = conn.execute(
        "select f.id, array(select segment_index from analysis_ssml_segments s"
        "                   where s.feedback_id = f.id order by 1),"
        "       array(select segment_index from analysis_audio_segments a"
        "                   where a.feedback_id = f.id order by 1),"
        "       f.audio_status"
        " from analysis_feedback f"
    ).fetchall()
    done = [g for g in gaps if g[3] == "completed"]
    bad = [g for g in done if not g[1] or g[1] != list(range(len(g[1]))) or g[1] != g[2]]
    bad += [g for g in gaps if g[3] == "failed" and (len(g[1]) < 2 or g[2])]
    assert not bad, bad[:5]
    multi = sum(1 for g in done if len(g[1]) > 1)
    checked.append(
        f"one SSML and one audio segment set per item, indexes 0..n-1 ({multi} items with 2+);"
        f" the {lost} doomed ones have SSML and no audio rows"
    )
    rows = {url for (url,) in conn.execute("select audio_url from analysis_audio_segments")}
    objects = set(storage.list(PROCESSED_BUCKET, ""))
    assert objects == rows, (sorted(objects - rows)[:5], sorted(rows - objects)[:5])
    checked.append(f"{len(objects)} audio objects = segment rows, no orphans")
    return checked


def main() -> None:
    from shared import migrate
    from tests.conftest import create_database, drop_database
    from tests.pg import admin_url, with_database

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=secrets.randbelow(2**31))
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--items", type=int, default=16, help="feedback items per video")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--db-faults", action="store_true", help="cut connections mid-run")
    args = parser.parse_args()
    admin, name = admin_url(), f"cuecast_chaos_{uuid.uuid4().hex[:8]}"
    create_database(admin, name)
    url = with_database(admin, name)
    try:
        migrate.install_local_supabase(url)
        migrate.migrate(url)
        workdir = Path(f".cuecast/chaos/{name}")
        workdir.mkdir(parents=True, exist_ok=True)
        config = ChaosConfig(
            seed=args.seed,
            videos=args.videos,
            items_per_video=args.items,
            workers=args.workers,
            terminate_every_s=1.0 if args.db_faults else None,
            timeout_s=3600,
        )
        run_chaos(url, workdir, config).print()
    finally:
        drop_database(admin, name)


if __name__ == "__main__":
    main()
