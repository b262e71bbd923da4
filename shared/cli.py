"""The `cuecast` command: migrate, and (with the local runtime) demo, replay, reconcile,
status and worker."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from shared import migrate as migrations
from shared.errors import CuecastError

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _database_url(args: argparse.Namespace) -> str:
    return str(args.database_url or os.environ.get("DATABASE_URL") or LOCAL_DATABASE_URL)


def cmd_migrate(args: argparse.Namespace) -> int:
    url = _database_url(args)
    if args.local_supabase:
        migrations.install_local_supabase(url)
        print("installed the local Supabase surface")
    applied = migrations.migrate(url, Path(args.dir), upto=args.upto)
    for migration in applied:
        print(f"applied {migration.path.name}")
    print(f"{len(applied)} migration(s) applied" if applied else "database is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cuecast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    m = commands.add_parser("migrate", help="apply pending migrations to DATABASE_URL")
    m.add_argument("--database-url", help="defaults to $DATABASE_URL, else the local server")
    m.add_argument("--dir", default=str(migrations.MIGRATIONS_DIR), help="migrations folder")
    m.add_argument("--upto", help="stop after this 14-digit version")
    m.add_argument(
        "--local-supabase",
        action="store_true",
        help="first install the Supabase surface for plain Postgres (local runs and tests)",
    )
    m.set_defaults(handler=cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CuecastError as exc:
        print(f"cuecast {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
