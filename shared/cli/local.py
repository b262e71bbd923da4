"""The commands' local plumbing: delivering the local publisher's doorbells right here,
waiting for a backfill batch to settle, and when this process started."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console

from shared.adapters.local_pubsub import LocalPubSub
from shared.bootstrap import App
from shared.domain import Stage
from shared.errors import CuecastError
from shared.local.runtime import LocalRuntime


def deliver_locally(app: App, console: Console, timeout_s: float = 600) -> None:
    """With the local publisher, run the functions here until every doorbell is handled
    (the bus has been idle for half a second)."""
    bus = app.publisher
    if not isinstance(bus, LocalPubSub) or bus.idle():
        return
    with LocalRuntime(app, workers=app.settings.db_pool_max_size):
        deadline = time.monotonic() + timeout_s
        idle_since: float | None = None
        while idle_since is None or time.monotonic() - idle_since < 0.5:
            if time.monotonic() > deadline:
                raise CuecastError(f"local delivery still busy after {timeout_s:g} s")
            idle_since = (idle_since or time.monotonic()) if bus.idle() else None
            time.sleep(0.05)
    console.print(f"delivered locally; {len(bus.dead_letters)} message(s) dead-lettered")


def wait_settled(app: App, batch: dict[Stage, list[int]], timeout_s: float, every: float) -> float:
    started = time.monotonic()
    ids = [i for stage_ids in batch.values() for i in stage_ids]
    while app.database.unsettled(ids) and time.monotonic() - started < timeout_s:
        time.sleep(every)
    return time.monotonic() - started


def process_started() -> float:
    """When this process started, on the `time.monotonic()` clock (Linux /proc; elsewhere,
    now): the demo's times then include the interpreter's start and the imports."""
    try:
        stat = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic()
    return time.monotonic() - max(0.0, age)
