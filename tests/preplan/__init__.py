"""The app's own database before the action plan, for the adoption tests and the big-table
benchmark: what cuecast must adopt without losing a row.

`create_database(admin, name)` makes it as hosted Supabase holds it for the app at
JohnSchweden/sololevel f781bdf8e: the local Supabase surface, the hosted roles (hosted.sql:
the project's `postgres` is not a superuser, here `hosted_postgres`), the app's six
migrations (app/*.sql, written for these tests from that commit's facts), recorded in
`supabase_migrations.schema_migrations` as the Supabase CLI recorded them, and, unless
`rows=False`, the realistic rows of rows.sql. It returns the hosted role's URL: everything
after that, cuecast's migrations included, runs as that role.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from shared import migrate
from shared.local.database import with_database
from shared.sql_text import split_statements

HERE = Path(__file__).resolve().parent
HOSTED_ROLE = "hosted_postgres"

# The app's migration history at f781bdf8e: (version, name as the CLI recorded it, our file).
APP_HISTORY = (
    ("20250923000000", "initial_baseline", "baseline.sql"),
    ("20250923000001", "add_per_feedback_ssml_storage", "ssml_storage.sql"),
    ("20250923000004", "create_raw_bucket", "raw_bucket.sql"),
    ("20250923000005", "create_processed_bucket", "processed_bucket.sql"),
    ("20250923000006", "raw_mime_validation", "raw_mime.sql"),
    ("20250923000007", "processed_mime_validation", "processed_mime.sql"),
)
APP_VERSIONS = tuple(version for version, _, _ in APP_HISTORY)

# What the Supabase CLI runs before it records a migration (pkg/migration/history.go).
_CLI_HISTORY_TABLE = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key
);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
"""


def as_role(url: str, role: str = HOSTED_ROLE) -> str:
    """`url` with its user replaced (trust authentication on the test server)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


def install_hosted_roles(admin_db_url: str) -> None:
    """The local Supabase surface with hosted Supabase's ownership, in one database (as a
    superuser); the database then belongs to the hosted role."""
    migrate.install_local_supabase(admin_db_url)
    with psycopg.connect(admin_db_url, autocommit=True) as conn:
        conn.execute(sql.SQL((HERE / "hosted.sql").read_text("utf-8")))  # type: ignore[arg-type]
        dbname = conn.info.dbname
        conn.execute(
            sql.SQL("alter database {} owner to {}").format(
                sql.Identifier(dbname), sql.Identifier(HOSTED_ROLE)
            )
        )


def apply_app_history(url: str) -> None:
    """The app's six migrations, each in one transaction with its history row."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL(_CLI_HISTORY_TABLE))  # type: ignore[arg-type]
        for version, name, file_name in APP_HISTORY:
            text = (HERE / "app" / file_name).read_text("utf-8")
            with conn.transaction():
                conn.execute(sql.SQL(text))  # type: ignore[arg-type]
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name, statements)"
                    " values (%s, %s, %s)",
                    (version, name, split_statements(text)),
                )


def insert_rows(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL((HERE / "rows.sql").read_text("utf-8")))  # type: ignore[arg-type]


def create_database(admin_url: str, name: str, *, rows: bool = True) -> str:
    """A new database `name` in the app's pre-plan state; the hosted role's URL to it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    admin_db = with_database(admin_url, name)
    install_hosted_roles(admin_db)
    url = as_role(admin_db)
    apply_app_history(url)
    if rows:
        insert_rows(url)
    return url


def create_empty_hosted(admin_url: str, name: str) -> str:
    """A new, empty hosted database (a fresh Supabase project); the hosted role's URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    admin_db = with_database(admin_url, name)
    install_hosted_roles(admin_db)
    return as_role(admin_db)
