"""The `cuecast` command: migrate, demo, status, replay, backfill, reconcile and worker.

Every command finds its database the same way (shared/local/database.py): DATABASE_URL, else
the local server on 127.0.0.1:5432, else the embedded one. Commands that publish use the
configured publisher; with the local one, the doorbells are delivered right here to the
functions, so a local replay or reconcile runs the work it rings for. The handlers are in
commands.py, what they print in render.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import IO

from rich.console import Console

from shared import logs
from shared import migrate as migrations
from shared.cli.commands import (
    STAGES,
    cmd_backfill,
    cmd_demo,
    cmd_migrate,
    cmd_reconcile,
    cmd_replay,
    cmd_status,
    cmd_worker,
    duration,
    migration_version,
)
from shared.domain import JobStatus
from shared.errors import CuecastError


def _migrate(m: argparse.ArgumentParser) -> None:
    m.add_argument("--dir", default=str(migrations.MIGRATIONS_DIR), help="migrations folder")
    m.add_argument("--upto", type=migration_version, help="stop after this 14-digit version")
    m.add_argument(
        "--lock-timeout",
        type=float,
        default=migrations.DEFAULT_LOCK_TIMEOUT_S,
        help="seconds a file may wait for a lock the app holds before it rolls back"
        " (default %(default)s)",
    )
    m.add_argument(
        "--local-supabase",
        action="store_true",
        help="first install the Supabase surface for plain Postgres (local runs and tests)",
    )


def _demo(d: argparse.ArgumentParser) -> None:
    d.add_argument("video", nargs="?", help="an .mp4/.mov file (default: the generated sample)")
    d.add_argument("--workers", type=int, default=4, help="local delivery threads")
    d.add_argument("--timeout", type=float, default=300, help="seconds before giving up")
    d.add_argument("--transport", choices=("inprocess", "http"), default="inprocess")
    d.add_argument("--fresh", action="store_true", help="recreate this checkout's local database")


def _status(s: argparse.ArgumentParser) -> None:
    s.add_argument("--job", type=int, help="the whole story of one analysis job")
    s.add_argument("--failures", type=int, default=20, help="failures listed per stage")
    s.add_argument("--json", action="store_true", help="machine-readable output")


def _replay(r: argparse.ArgumentParser) -> None:
    r.add_argument("--stage", action="append", choices=sorted(STAGES), help="repeatable")
    r.add_argument("--id", action="append", type=int, help="message id (repeatable)")
    r.add_argument("--status", action="append", choices=[s.value for s in JobStatus])
    r.add_argument("--older-than", type=duration, help="last change older than (15m, 2h)")
    r.add_argument("--requeue", action="store_true", help="failed → queued, attempts reset")
    r.add_argument(
        "--force", action="store_true", help="completed and failed → queued: run them again"
    )
    r.add_argument("--dry-run", action="store_true", help="list what would be sent")
    r.add_argument("--limit", type=int, default=10_000, help="at most this many per stage")
    r.add_argument("--no-deliver", action="store_true", help="local publisher: only publish")


def _backfill(b: argparse.ArgumentParser) -> None:
    b.add_argument("--dry-run", action="store_true", help="count items and provider calls only")
    b.add_argument("--batch-size", type=int, default=100, help="items per batch (default 100)")
    b.add_argument("--limit", type=int, help="at most this many items in all")
    b.add_argument("--job", type=int, help="only this analysis job's items")
    b.add_argument(
        "--batch-timeout",
        type=float,
        default=600,
        help="seconds to wait for a batch to settle before the next (default 600)",
    )
    b.add_argument("--pause", type=float, default=0, help="seconds between batches")


def _reconcile(c: argparse.ArgumentParser) -> None:
    c.add_argument("--no-deliver", action="store_true", help="local publisher: only publish")


def _worker(w: argparse.ArgumentParser) -> None:
    w.add_argument("--port", type=int, default=8080, help="first port (webhook); then +1 …")
    w.add_argument("--workers", type=int, default=4, help="local delivery threads")
    w.add_argument("--reconcile-every", type=float, default=60, help="seconds between sweeps")


Handler = Callable[[argparse.Namespace, Console], int]
COMMANDS: tuple[tuple[str, Handler, str, Callable[[argparse.ArgumentParser], None]], ...] = (
    ("migrate", cmd_migrate, "apply pending migrations", _migrate),
    ("demo", cmd_demo, "run the whole pipeline on a video, on this machine", _demo),
    ("status", cmd_status, "jobs by stage and status, failures, one job's story", _status),
    ("replay", cmd_replay, "republish chosen jobs to their stage's topic", _replay),
    ("backfill", cmd_backfill, "queue the items that were there before cuecast, in batches",
     _backfill),
    ("reconcile", cmd_reconcile, "one sweep: lost doorbells, expired leases", _reconcile),
    ("worker", cmd_worker, "serve the functions on loopback HTTP", _worker),
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cuecast", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, help_, arguments in COMMANDS:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.add_argument("--database-url", help="defaults to $DATABASE_URL, else local/embedded")
        sub.set_defaults(handler=handler)
        arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stream = out or sys.stdout
    width = None if stream.isatty() else 160  # rich would assume 80 columns
    console = Console(file=stream, highlight=False, width=width)
    if args.command != "demo":
        logs.configure(stream=logs.STDERR)
    handler: Handler = args.handler
    try:
        return handler(args, console)
    except (CuecastError, FileNotFoundError) as exc:
        print(f"cuecast {args.command}: {exc}", file=sys.stderr)
        return 1
