"""The `cuecast` commands, one handler each: find the database, open an App, call the
library, print with shared/cli/render.py."""

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from shared import logs
from shared import migrate as migrations
from shared.adapters.local_pubsub import LocalPubSub
from shared.backfill import BackfillScope, backfill, plan
from shared.bootstrap import App
from shared.cli import render
from shared.cli.local import deliver_locally, process_started, wait_settled
from shared.domain import JobStatus, Stage
from shared.errors import CuecastError
from shared.local.database import DatabaseChoice, checkout_database, choose_database, describe
from shared.local.demo import audio_files, results_table, run_demo
from shared.local.runtime import LocalRuntime, adapter_choices, local_secret_path, with_local_secret
from shared.replay import ReplaySelection, replay
from shared.services.reconciler import reconcile
from shared.settings import Settings, load
from shared.stages import FUNCTIONS
from shared.status import to_json

STAGES = {stage.value: stage for stage in Stage}
PORT_ORDER = tuple(FUNCTIONS)  # `cuecast worker --port P`: P, P+1, … in this order


def _settings(args: argparse.Namespace) -> Settings:
    given = {"DATABASE_URL": args.database_url} if getattr(args, "database_url", None) else {}
    settings = load(**given)
    # Local runs: the webhook, the Vault stand-in and a curl share this checkout's secret.
    return with_local_secret(settings) if settings.publisher == "local" else settings


def _database(settings: Settings, console: Console, *, fresh: bool = False) -> DatabaseChoice:
    home = Path(settings.local_home)
    choice = choose_database(
        settings.database_url,
        local_url=settings.local_database_url,
        data_dir=home.resolve() / "pgdata",
        dbname=checkout_database(home),
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
        else:
            migrations.require_migrated(choice.url, describe(choice.url))
        app = App(settings.copy(database_url=choice.url))
        try:
            yield app
        finally:
            app.close()
    finally:
        choice.stop()


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
            on_applied=lambda migration, said: render.print_applied(console, migration, said),
        )
    finally:
        choice.stop()
    console.print(f"{len(applied)} migration(s) applied" if applied else "database is up to date")
    return 0


def migration_version(text: str) -> str:
    """A migration version for --upto: 14 digits, as the files are named."""
    if not re.fullmatch(r"\d{14}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a migration version: 14 digits, as in 20250924000008"
        )
    return text


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
                settings.copy(database_url=choice.url),
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
    console.print(f"wall time from command start: {render.stage_times(run.stage_done_s)}")
    if run.failure:
        console.print(f"[bold red]demo failed[/bold red]: {run.failure}")
        return 1
    console.print(f"[bold green]demo completed[/bold green] in {time.monotonic() - started:.2f} s")
    return 0


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    settings = _settings(args)
    quiet = Console(file=sys.stderr, quiet=args.json)
    with _opened_app(settings, quiet) as app:
        if args.job is not None:
            story = app.database.job_story(args.job)
            if story is None:
                raise CuecastError(f"no analysis job {args.job}")
            report: Any = story
        else:
            report = [app.database.stage_status(stage, args.failures) for stage in Stage]
    if args.json:
        print(json.dumps(to_json(report), indent=2))
    elif args.job is not None:
        render.print_story(report, settings, console)
    else:
        render.print_status(report, console)
    return 0


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
            app.database,
            app.publisher,
            app.topics(),
            selection,
            requeue=args.requeue,
            force=args.force,
            dry_run=args.dry_run,
        )
        render.print_replay(report, console)
        if not args.dry_run and not args.no_deliver:
            deliver_locally(app, console)
    return 0


def cmd_backfill(args: argparse.Namespace, console: Console) -> int:
    settings = _settings(args)
    scope = BackfillScope(job_id=args.job, limit=args.limit)
    with _opened_app(settings, console) as app:
        if args.dry_run:
            render.print_plan(plan(app.database, scope, settings.voice()), settings, console)
            return 0
        local = isinstance(app.publisher, LocalPubSub)
        runtime = LocalRuntime(app, workers=app.settings.db_pool_max_size) if local else None

        def settle(batch: dict[Stage, list[int]]) -> None:
            waited = wait_settled(app, batch, args.batch_timeout, 0.1 if local else 2.0)
            ids = sum(len(v) for v in batch.values())
            console.print(f"  batch of {ids}: settled in {waited:.1f} s")
            time.sleep(args.pause)

        with runtime or contextlib.nullcontext():
            report = backfill(
                app.database, app.publisher, app.topics(), scope,
                batch_size=args.batch_size, after_batch=settle,
            )  # fmt: skip
    console.print(
        f"queued {report.queued(Stage.SSML)} item(s) for SSML and audio and"
        f" {report.queued(Stage.AUDIO)} for audio, in {len(report.batches)} batch(es)"
    )
    return 0


def cmd_reconcile(args: argparse.Namespace, console: Console) -> int:
    with _opened_app(_settings(args), console) as app:
        report = reconcile(
            app.database, app.publisher, app.topics(), app.policy, storage=app.storage
        )
        for stage in Stage:
            console.print(
                f"  {stage}: republished {len(report.republish.get(stage, []))},"
                f" reclaimed {report.reclaimed.get(stage, 0)},"
                f" failed {len(report.failed.get(stage, []))}"
            )
        console.print(f"reconciled: {report.total()} action(s)")
        if not args.no_deliver:
            deliver_locally(app, console)
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
        if "WEBHOOK_SECRET" not in os.environ:
            path = local_secret_path(app.settings)
            console.print(
                f"  WEBHOOK_SECRET unset: the webhook takes this checkout's, in {path}",
                soft_wrap=True,
            )
            console.print(f"  (for curl: export WEBHOOK_SECRET=$(cat {path}))", soft_wrap=True)
        console.print("serving; Ctrl-C stops (see README: run the functions locally)")
        next_sweep = time.monotonic() + args.reconcile_every
        # Short waits: a signal the kernel hands to another thread does not wake a long one,
        # and the handler would run only when it timed out.
        while not stop.wait(0.2):
            if time.monotonic() >= next_sweep:
                reconcile(
                    app.database, app.publisher, app.topics(), app.policy, storage=app.storage
                )
                next_sweep = time.monotonic() + args.reconcile_every
    return 0


def duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 15m, 2h, 1d)")
    scale = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale
