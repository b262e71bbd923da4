"""The `cuecast` command: migrate, demo, status, replay, backfill, reconcile and worker.

Every command finds its database the same way (shared/local/database.py): DATABASE_URL, else
the local server on 127.0.0.1:5432, else the embedded one. Commands that publish use the
configured publisher; with the local one, the doorbells are delivered right here to the
functions, so a local replay or reconcile runs the work it rings for.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from shared import logs
from shared import migrate as migrations
from shared.adapters.local_pubsub import LocalPubSub
from shared.backfill import BackfillPlan, BackfillScope, backfill, plan, unsettled
from shared.bootstrap import App
from shared.domain import JobStatus, Stage
from shared.errors import CuecastError
from shared.local.database import DatabaseChoice, choose_database
from shared.local.demo import audio_files, results_table, run_demo
from shared.local.runtime import LocalRuntime, adapter_choices
from shared.replay import ReplayReport, ReplaySelection, replay
from shared.services.relay import reconcile
from shared.settings import Settings
from shared.status import JobStory, StageStatus, job_story, stage_status, to_json

STAGES = {stage.value: stage for stage in Stage}
PORT_ORDER = ("webhook", "start_analysis", "ssml", "audio", "reconcile")  # from --port on


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "database_url", None):
        settings = settings.model_copy(update={"database_url": args.database_url})
    return settings


def _database(settings: Settings, console: Console, *, fresh: bool = False) -> DatabaseChoice:
    choice = choose_database(
        settings.database_url,
        local_url=settings.local_database_url,
        data_dir=Path(settings.local_home).resolve() / "pgdata",
        fresh=fresh,
    )
    console.print(f"  database    {choice.source}")
    return choice


@contextmanager
def _opened_app(settings: Settings, console: Console, *, migrate: bool = False) -> Iterator[App]:
    """An App on the chosen database (migrated first when asked); closed, and an embedded
    server stopped, when the block ends."""
    choice = _database(settings, console)
    try:
        if migrate:
            migrations.install_local_supabase(choice.url)
            migrations.migrate(choice.url)
        app = App(settings.model_copy(update={"database_url": choice.url}))
        try:
            yield app
        finally:
            app.close()
    finally:
        choice.stop()


def _deliver_locally(app: App, console: Console, timeout_s: float = 600) -> None:
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


def cmd_migrate(args: argparse.Namespace, console: Console) -> int:
    choice = _database(_settings(args), console)
    try:
        if args.local_supabase:
            installed = migrations.install_local_supabase(choice.url)
            console.print(
                "installed the local Supabase surface"
                if installed
                else "the Supabase surface is there already"
            )
        applied = migrations.migrate(
            choice.url,
            Path(args.dir),
            upto=args.upto,
            lock_timeout_s=args.lock_timeout,
            on_applied=lambda migration, said: _print_applied(console, migration, said),
        )
    finally:
        choice.stop()
    console.print(f"{len(applied)} migration(s) applied" if applied else "database is up to date")
    return 0


def _version(text: str) -> str:
    """A migration version for --upto: 14 digits, as the files are named."""
    if not re.fullmatch(r"\d{14}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a migration version: 14 digits, as in 20250924000008"
        )
    return text


def _print_applied(console: Console, migration: migrations.Migration, said: list[str]) -> None:
    console.print(f"applied {migration.path.name}", highlight=False)
    for line in said:
        console.print(f"  {line}", highlight=False, markup=False)


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


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    started = process_started()
    settings = _settings(args)
    home = Path(settings.local_home)
    log_path = home / "logs" / "demo.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console.print("[bold]cuecast demo[/bold]: upload → analysis → SSML → audio, on this machine")
    choice = _database(settings, console, fresh=args.fresh)
    for name, what in adapter_choices(settings):
        console.print(f"  {name:<11} {what}")
    console.print(f"  delivery    {args.workers} worker(s), {args.transport}")
    console.print(f"  logs        {log_path} (JSON lines)")
    with log_path.open("a", encoding="utf-8") as log_file:
        logs.configure(stream=log_file)
        try:
            run = run_demo(
                settings.model_copy(update={"database_url": choice.url}),
                video=Path(args.video) if args.video else None,
                home=home,
                workers=args.workers,
                timeout_s=args.timeout,
                started=started,
                console=console,
                transport=args.transport,
            )
        finally:
            logs.configure(stream=logs.STDERR)
            choice.stop()
    if run.story is not None:
        storage = Path(settings.storage_dir) if settings.storage == "local" else None
        console.print(results_table(run.story, storage))
        for line in audio_files(run.story, storage):
            console.print(f"  {line}", soft_wrap=True)
    console.print(f"wall time from command start: {_stage_times(run.stage_done_s)}")
    if run.failure:
        console.print(f"[bold red]demo failed[/bold red]: {run.failure}")
        return 1
    console.print(f"[bold green]demo completed[/bold green] in {time.monotonic() - started:.2f} s")
    return 0


def _stage_times(done: dict[str, float]) -> str:
    """`stage done at T s (+D s)` for each finished stage, D since the previous one."""
    parts, previous = [], 0.0
    for stage, seconds in done.items():
        parts.append(f"{stage} done at {seconds:.2f} s (+{seconds - previous:.2f})")
        previous = seconds
    return ", ".join(parts) or "nothing finished"


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    settings = _settings(args)
    quiet = Console(file=sys.stderr, quiet=args.json)
    with _opened_app(settings, quiet) as app, app.pool.connection() as conn:
        if args.job is not None:
            story = job_story(conn, args.job)
            if story is None:
                raise CuecastError(f"no analysis job {args.job}")
            report: Any = story
        else:
            report = [stage_status(conn, stage, args.failures) for stage in Stage]
    if args.json:
        print(json.dumps(to_json(report), indent=2))
    elif args.job is not None:
        _print_story(report, settings, console)
    else:
        _print_status(report, console)
    return 0


def _print_story(story: JobStory, settings: Settings, console: Console) -> None:
    storage = Path(settings.storage_dir) if settings.storage == "local" else None
    console.print(_story_header(story))
    console.print(results_table(story, storage))
    for line in audio_files(story, storage):
        console.print(f"  {line}", soft_wrap=True)
    for item in story.items:
        for stage, job in (("ssml", item.ssml_job), ("audio", item.audio_job)):
            if job and job["last_error"]:
                console.print(f"  {stage} {item.feedback_id}: {job['last_error']}")


def _print_status(report: list[StageStatus], console: Console) -> None:
    console.print(_status_table(report))
    for status in report:
        for failure in status.failures:
            console.print(
                f"  {status.stage} {failure.id} failed after {failure.attempts} attempt(s)"
                f" at {failure.at:%Y-%m-%d %H:%M:%S}: {failure.error}"
            )


def _story_header(story: JobStory) -> str:
    job, video = story.job, story.video
    timing = ""
    if job["processing_started_at"] and job["processing_completed_at"]:
        seconds = (job["processing_completed_at"] - job["processing_started_at"]).total_seconds()
        timing = f", analysed in {seconds:.2f} s"
    return (
        f"analysis job {job['id']}: {job['status']} ({job['progress_percentage']}%), "
        f"attempt {job['attempts']}, generation {job['generation']}{timing}\n"
        f"  video {video['id']} {video['storage_path']} ({video['format']}, "
        f"{video['file_size'] or 0:,} bytes, upload {video['upload_status']}), "
        f"created {job['created_at']:%Y-%m-%d %H:%M:%S}\n"
        + (f"  error: {job['error_message']}\n" if job["error_message"] else "")
    )


def _status_table(report: list[StageStatus]) -> Table:
    table = Table(title="jobs by stage")
    table.add_column("stage")
    for name in JobStatus:
        table.add_column(name.value, justify="right")
    table.add_column("oldest queued", justify="right")
    for stage in report:
        oldest = "-" if stage.oldest_queued_s is None else f"{stage.oldest_queued_s:.0f} s"
        counts = [str(stage.counts.get(s.value, 0)) for s in JobStatus]
        table.add_row(str(stage.stage), *counts, oldest)
    return table


def cmd_replay(args: argparse.Namespace, console: Console) -> int:
    settings = _settings(args)
    selection = ReplaySelection(
        stages=tuple(STAGES[s] for s in args.stage) if args.stage else tuple(Stage),
        ids=tuple(args.id or ()),
        statuses=tuple(JobStatus(s) for s in args.status or ()),
        older_than_s=args.older_than,
        limit=args.limit,
    )
    with _opened_app(settings, console) as app:
        report = replay(
            app.pool,
            app.publisher,
            app.topics(),
            selection,
            requeue=args.requeue,
            dry_run=args.dry_run,
        )
        _print_replay(report, console)
        if not args.dry_run and not args.no_deliver:
            _deliver_locally(app, console)
    return 0


def _print_replay(report: ReplayReport, console: Console) -> None:
    for stage, selected in report.selected.items():
        ids = " ".join(f"{key}({status})" for key, status in selected) or "none"
        console.print(f"  {stage}: {ids}")
        if report.requeued.get(stage):
            console.print(f"  {stage}: re-queued {len(report.requeued[stage])} failed job(s)")
    verb = "would publish" if report.dry_run else "published"
    total = sum(len(s) for s in report.selected.values())
    console.print(f"{verb} {total if report.dry_run else report.total_published()} message(s)")


def cmd_backfill(args: argparse.Namespace, console: Console) -> int:
    settings = _settings(args)
    scope = BackfillScope(job_id=args.job, limit=args.limit)
    with _opened_app(settings, console) as app:
        if args.dry_run:
            _print_plan(plan(app.pool, scope, settings.voice()), settings, console)
            return 0
        local = isinstance(app.publisher, LocalPubSub)
        runtime = LocalRuntime(app, workers=app.settings.db_pool_max_size) if local else None

        def settle(batch: dict[Stage, list[int]]) -> None:
            waited = _wait_settled(app, batch, args.batch_timeout, 0.1 if local else 2.0)
            ids = sum(len(v) for v in batch.values())
            console.print(f"  batch of {ids}: settled in {waited:.1f} s")
            time.sleep(args.pause)

        with runtime or contextlib.nullcontext():
            report = backfill(
                app.pool, app.publisher, app.topics(), scope,
                batch_size=args.batch_size, after_batch=settle,
            )  # fmt: skip
    console.print(
        f"queued {report.queued(Stage.SSML)} item(s) for SSML and audio and"
        f" {report.queued(Stage.AUDIO)} for audio, in {len(report.batches)} batch(es)"
    )
    return 0


def _wait_settled(app: App, batch: dict[Stage, list[int]], timeout_s: float, every: float) -> float:
    started = time.monotonic()
    while unsettled(app.pool, batch) and time.monotonic() - started < timeout_s:
        time.sleep(every)
    return time.monotonic() - started


def _print_plan(counted: BackfillPlan, settings: Settings, console: Console) -> None:
    table = Table(title="cuecast backfill --dry-run: what a run would queue")
    for name in ("items", "need", "provider calls"):
        table.add_column(name, justify="right" if name == "items" else "left")
    writer = "Gemini" if settings.ssml_writer == "gemini" else "the SSML builder (no API)"
    tts = "Cloud Text-to-Speech" if settings.tts == "google" else "eSpeak NG (local)"
    table.add_row(str(counted.ssml_items), "SSML, then audio", f"{counted.ssml_items} to {writer}")
    table.add_row(str(counted.audio_items), "audio", "")
    table.add_row(str(counted.items), "in all", f"{counted.tts_calls} to {tts}")
    console.print(table)


def cmd_reconcile(args: argparse.Namespace, console: Console) -> int:
    with _opened_app(_settings(args), console) as app:
        report = reconcile(app.pool, app.publisher, app.topics(), app.policy)
        for stage in Stage:
            console.print(
                f"  {stage}: republished {len(report.republish.get(stage, []))},"
                f" reclaimed {report.reclaimed.get(stage, 0)},"
                f" failed {len(report.failed.get(stage, []))}"
            )
        console.print(f"reconciled: {report.total()} action(s)")
        if not args.no_deliver:
            _deliver_locally(app, console)
    return 0


def cmd_worker(args: argparse.Namespace, console: Console) -> int:
    logs.configure(stream=logs.STDOUT)
    ports = {name: args.port + offset for offset, name in enumerate(PORT_ORDER)}
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with (
        _opened_app(_settings(args), console, migrate=True) as app,
        LocalRuntime(app, workers=args.workers, transport="http", ports=ports) as runtime,
    ):
        for name, endpoint in runtime.endpoints.items():
            console.print(f"  {name:<15} {endpoint.url}")
        console.print("serving; Ctrl-C stops (see README: run the functions locally)")
        while not stop.wait(args.reconcile_every):
            reconcile(app.pool, app.publisher, app.topics(), app.policy)
    return 0


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 15m, 2h, 1d)")
    scale = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cuecast", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[..., int], help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.add_argument("--database-url", help="defaults to $DATABASE_URL, else local/embedded")
        sub.set_defaults(handler=handler)
        return sub

    m = command("migrate", cmd_migrate, "apply pending migrations")
    m.add_argument("--dir", default=str(migrations.MIGRATIONS_DIR), help="migrations folder")
    m.add_argument("--upto", type=_version, help="stop after this 14-digit version")
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

    d = command("demo", cmd_demo, "run the whole pipeline on a video, on this machine")
    d.add_argument("video", nargs="?", help="an .mp4/.mov file (default: the generated sample)")
    d.add_argument("--workers", type=int, default=4, help="local delivery threads")
    d.add_argument("--timeout", type=float, default=300, help="seconds before giving up")
    d.add_argument("--transport", choices=("inprocess", "http"), default="inprocess")
    d.add_argument("--fresh", action="store_true", help="recreate the local `cuecast` database")

    s = command("status", cmd_status, "jobs by stage and status, failures, one job's story")
    s.add_argument("--job", type=int, help="the whole story of one analysis job")
    s.add_argument("--failures", type=int, default=20, help="failures listed per stage")
    s.add_argument("--json", action="store_true", help="machine-readable output")

    r = command("replay", cmd_replay, "republish chosen jobs to their stage's topic")
    r.add_argument("--stage", action="append", choices=sorted(STAGES), help="repeatable")
    r.add_argument("--id", action="append", type=int, help="message id (repeatable)")
    r.add_argument("--status", action="append", choices=[s.value for s in JobStatus])
    r.add_argument("--older-than", type=_duration, help="last change older than (15m, 2h)")
    r.add_argument("--requeue", action="store_true", help="failed → queued, attempts reset")
    r.add_argument("--dry-run", action="store_true", help="list what would be sent")
    r.add_argument("--limit", type=int, default=10_000, help="at most this many per stage")
    r.add_argument("--no-deliver", action="store_true", help="local publisher: only publish")

    b = command(
        "backfill", cmd_backfill, "queue the items that were there before cuecast, in batches"
    )
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

    c = command("reconcile", cmd_reconcile, "one sweep: lost doorbells, expired leases")
    c.add_argument("--no-deliver", action="store_true", help="local publisher: only publish")

    w = command("worker", cmd_worker, "serve the functions on loopback HTTP")
    w.add_argument("--port", type=int, default=8080, help="first port (webhook); then +1 …")
    w.add_argument("--workers", type=int, default=4, help="local delivery threads")
    w.add_argument("--reconcile-every", type=float, default=60, help="seconds between sweeps")
    return parser


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stream = out or sys.stdout
    width = None if stream.isatty() else 160  # rich would assume 80 columns
    console = Console(file=stream, highlight=False, width=width)
    if args.command != "demo":
        logs.configure(stream=logs.STDERR)
    handler: Callable[[argparse.Namespace, Console], int] = args.handler
    try:
        return handler(args, console)
    except (CuecastError, FileNotFoundError) as exc:
        print(f"cuecast {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
