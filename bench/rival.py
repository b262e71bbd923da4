"""Procrastinate's side of bench.throughput: the same two-stage chain — a task per item that
defers the second task — on Procrastinate's own database on the same server, run by its
own worker (asyncio, `concurrency` jobs at once, LISTEN/NOTIFY wake-ups), configured as its
documentation shows (PsycopgConnector, default connection settings)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import procrastinate
import psycopg
from procrastinate.schema import SchemaManager
from procrastinate.types import JSONValue

CHUNK = 1000


def install_schema(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SchemaManager.get_schema())


def clear(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "truncate procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers,"
            " procrastinate_workers restart identity cascade"
        )


def _analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("analyze procrastinate_jobs, procrastinate_events")


async def _run(
    url: str,
    concurrency: int,
    items: int,
    pool_size: int,
    before_start: Callable[[], None] | None,
    on_done: Callable[[], None] | None,
    pool_args: dict[str, Any],
) -> float:
    connector = procrastinate.PsycopgConnector(
        conninfo=url, min_size=pool_size, max_size=pool_size, **pool_args
    )
    app = procrastinate.App(connector=connector)
    done = asyncio.Event()
    finished = [0]

    @app.task(name="audio_step")
    async def audio_step(feedback_id: int) -> None:
        finished[0] += 1
        if finished[0] == items:
            done.set()

    @app.task(name="ssml_step")
    async def ssml_step(feedback_id: int) -> None:
        await audio_step.defer_async(feedback_id=feedback_id)

    async with app.open_async():
        for first in range(0, items, CHUNK):
            batch = range(first + 1, min(items, first + CHUNK) + 1)
            jobs: list[dict[str, JSONValue]] = [{"feedback_id": i} for i in batch]
            await ssml_step.batch_defer_async(*jobs)
        await asyncio.to_thread(_analyze, url)
        if before_start:
            before_start()
        start = time.perf_counter()
        worker = asyncio.create_task(
            app.run_worker_async(
                concurrency=concurrency,
                wait=True,
                install_signal_handlers=False,
                listen_notify=True,
            )
        )
        try:
            await asyncio.wait_for(done.wait(), timeout=max(120.0, items * 0.1))
            elapsed = time.perf_counter() - start
            if on_done:
                on_done()
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    return elapsed


def run(
    url: str,
    concurrency: int,
    items: int,
    *,
    before_start: Callable[[], None] | None = None,
    on_done: Callable[[], None] | None = None,
    **pool_args: Any,
) -> float:
    """Defer `items` first-stage jobs (not timed), call `before_start`, then time the worker
    until every second-stage job has run, then call `on_done`. `pool_args` go to the pool
    (e.g. `configure`)."""
    pool_size = concurrency + 2  # the jobs' connections, plus fetch/finish headroom
    return asyncio.run(_run(url, concurrency, items, pool_size, before_start, on_done, pool_args))
