"""Apply `migrations/*.sql` in name order, recording them as the Supabase CLI does.

Each file runs in its own transaction together with its row in
`supabase_migrations.schema_migrations (version, statements, name)`, so `supabase migration
list` and `cuecast migrate` agree on what is applied. A file that was applied and then edited
is refused (its statements no longer match the recorded ones); a failing file rolls back
alone and the error names it. Versions recorded by someone else (the app's own history on an
adopted database) are left alone.

Every connection is unprepared and keeps no session state (each file's settings are `SET
LOCAL`), so it works through Supabase's transaction pooler as well as directly. A file waits
at most `lock_timeout_s` for a lock the app holds, then fails and rolls back: run it again
when the app is quieter.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, scalar_row

from shared.errors import LockContention, MigrationError
from shared.sql_text import Statement, split_statements, statement_spans, strip_comments


def _migrations_dir() -> Path:
    """The migration files: the checkout's top-level migrations/ folder, which a built wheel
    carries as the package `shared.migrations` (pyproject.toml)."""
    here = Path(__file__).resolve().parent
    checkout = here.parent / "migrations"
    return checkout if checkout.is_dir() else here / "migrations"


MIGRATIONS_DIR = _migrations_dir()
_FILE_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")

_SETUP = sql.SQL("""
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key
);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
""")


# The base schema's version before the history was rewritten to adopt the app's database
# (it collided with the app's own baseline, 20250923000000): a database that records it was
# migrated by a checkout from before, and cannot be brought forward file by file.
_REWRITTEN = {"20250923000000": "base_schema"}
DEFAULT_LOCK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def statements(self) -> list[str]:
        return split_statements(self.text)


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in name order; refuses badly named files and duplicate versions."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: expected <14-digit version>_<snake_name>.sql")
        found.append(Migration(match["version"], match["name"], path))
    versions = [m.version for m in found]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise MigrationError(f"duplicate migration versions: {', '.join(duplicates)}")
    return found


def local_supabase_sql() -> str:
    return resources.files("shared").joinpath("sql/local_supabase.sql").read_text("utf-8")


def _connect(conninfo: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)


_SURFACE_PRESENT = sql.SQL("""
select to_regprocedure('auth.uid()') is not null
   and to_regclass('storage.objects') is not null
   and to_regclass('vault.decrypted_secrets') is not null
   and to_regclass('net.http_request_queue') is not null
   and exists (select 1 from pg_publication where pubname = 'supabase_realtime')
""")


def install_local_supabase(conninfo: str) -> bool:
    """The Supabase surface for plain Postgres (tests and local runs only), unless the
    database has it already (then nothing is touched: its objects may belong to another
    role, as on an adopted database). True when it was installed."""
    with _connect(conninfo) as conn:
        with conn.cursor(row_factory=scalar_row) as cursor:
            if cursor.execute(_SURFACE_PRESENT).fetchone():
                return False
        conn.execute(sql.SQL(local_supabase_sql()))
        return True


def migrate(
    conninfo: str,
    directory: Path = MIGRATIONS_DIR,
    *,
    upto: str | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    on_applied: Callable[[Migration, list[str]], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration (up to version `upto`, inclusive, when given); return
    those applied (empty when up to date). `on_applied` hears of each file as it commits,
    with what the server said while it ran (notices, warnings)."""
    migrations = [m for m in discover(directory) if upto is None or m.version <= upto]
    with _connect(conninfo) as conn:
        conn.execute(_SETUP)
        applied = _applied(conn)
        _check_history(migrations, applied)
        said: list[str] = []
        conn.add_notice_handler(lambda d: said.append(_notice(d)))
        done = []
        for migration in migrations:
            if migration.version not in applied:
                said.clear()
                _apply_retrying(conn, migration, lock_timeout_s, said)
                done.append(migration)
                if on_applied is not None:
                    on_applied(migration, list(said))
    return done


CONTENDED_ATTEMPTS = 3


def _apply_retrying(
    conn: psycopg.Connection[tuple[object, ...]],
    migration: Migration,
    lock_timeout_s: float,
    said: list[str],
) -> None:
    """A file rolled back by a deadlock with the app, or by the lock timeout, is run again
    (it changed nothing): a few times, after a pause, then the error stands."""
    for attempt in range(1, CONTENDED_ATTEMPTS + 1):
        try:
            _apply(conn, migration, lock_timeout_s)
            return
        except LockContention as exc:
            if attempt == CONTENDED_ATTEMPTS:
                raise MigrationError(f"{exc} (after {attempt} attempts)") from exc
            said.append(f"retry: {exc}")
            time.sleep(attempt)


def _notice(diag: psycopg.errors.Diagnostic) -> str:
    return f"{(diag.severity or 'NOTICE').lower()}: {diag.message_primary or ''}"


def pending(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations not applied yet (all of them on a database cuecast never touched);
    reads only, so a command can ask before it opens the database."""
    migrations = discover(directory)
    with _connect(conninfo) as conn:
        with conn.cursor(row_factory=scalar_row) as cursor:
            history = "supabase_migrations.schema_migrations"
            known = cursor.execute("select to_regclass(%s) is not null", (history,)).fetchone()
        if not known:
            return migrations
        conn.execute(_SETUP)  # older history tables lack the name and statements columns
        applied = _applied(conn)
    return [m for m in migrations if m.version not in applied]


def require_migrated(conninfo: str, where: str) -> None:
    """A MigrationError, in one line saying what to run, unless every migration is applied."""
    missing = pending(conninfo)
    if missing:
        raise MigrationError(
            f"{where} is not migrated ({len(missing)} migration(s) pending, from"
            f" {missing[0].path.name}): run cuecast migrate"
        )


@dataclass(frozen=True)
class Recorded:
    """One row of the history table."""

    name: str | None
    statements: list[str] | None


def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, Recorded]:
    query = sql.SQL("select version, name, statements from supabase_migrations.schema_migrations")
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(query).fetchall()
    return {str(r["version"]): Recorded(r["name"], r["statements"]) for r in rows}


def _check_history(migrations: list[Migration], applied: dict[str, Recorded]) -> None:
    for version, name in _REWRITTEN.items():
        recorded = applied.get(version)
        if recorded is not None and recorded.name == name:
            raise MigrationError(
                f"this database records cuecast's old history (version {version} {name},"
                " from before the history was rewritten to adopt the app's database);"
                " migrate a new database instead (`cuecast demo --fresh` recreates the"
                " local one)"
            )
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is None or recorded.statements is None:  # not applied, or by a tool
            continue  # that kept no statements
        if _normalise(recorded.statements) != _normalise(migration.statements()):
            raise MigrationError(
                f"{migration.path.name} was applied as version {migration.version} and has "
                "been edited since; migrations are immutable once applied: revert the edit "
                "and put the change in a new migration file"
            )


def _apply(
    conn: psycopg.Connection[tuple[object, ...]], migration: Migration, lock_timeout_s: float
) -> None:
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL(
                    "select set_config('lock_timeout', %s, true),"
                    " set_config('statement_timeout', '0', true)"
                ),
                (f"{int(lock_timeout_s * 1000)}ms",),
            )
            conn.execute(
                sql.SQL("lock table supabase_migrations.schema_migrations in exclusive mode")
            )
            already = conn.execute(
                sql.SQL("select 1 from supabase_migrations.schema_migrations where version = %s"),
                (migration.version,),
            ).fetchone()
            if already:  # another migrator got here first
                return
            _run_statements(conn, migration, lock_timeout_s)
            conn.execute(
                sql.SQL(
                    "insert into supabase_migrations.schema_migrations (version, statements, name)"
                    " values (%(version)s, %(statements)s, %(name)s)"
                ),
                {
                    "version": migration.version,
                    "statements": migration.statements(),
                    "name": migration.name,
                },
            )
    except psycopg.errors.LockNotAvailable as exc:  # the history table's lock
        raise LockContention(f"{migration.path.name}: the history table is locked") from exc
    except psycopg.Error as exc:  # the bookkeeping around the file
        raise MigrationError(f"{migration.path.name} failed and was rolled back: {exc}") from exc


def _run_statements(
    conn: psycopg.Connection[tuple[object, ...]], migration: Migration, lock_timeout_s: float
) -> None:
    """The file's statements one by one, so that a failure names its line."""
    for statement in statement_spans(migration.text):
        try:
            conn.execute(sql.SQL(statement.text))
        except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable) as exc:
            raise LockContention(_contention(migration, statement, exc, lock_timeout_s)) from exc
        except psycopg.Error as exc:
            raise MigrationError(_failure(migration, statement, exc)) from exc


def _contention(
    migration: Migration, statement: Statement, exc: psycopg.Error, lock_timeout_s: float
) -> str:
    where = f"{migration.path.name}:{statement.code_line}"
    if isinstance(exc, psycopg.errors.DeadlockDetected):
        return f"{where}: deadlock with another session (the app); the file was rolled back"
    return (
        f"{where}: waited {lock_timeout_s:g} s for a lock that another session holds (the app,"
        " or a long query); the file was rolled back: run `cuecast migrate` again when it is"
        " quieter, or give it longer with --lock-timeout"
    )


_PL_LINE = re.compile(r"PL/pgSQL function inline_code_block line (\d+)")
_NOT_SUPABASE = re.compile(
    r'(schema|role|relation|function) "?(auth|storage|net|vault|anon|authenticated|service_role)'
    r'\b[^"]*"? does not exist'
)


def _failure(migration: Migration, statement: Statement, exc: psycopg.Error) -> str:
    """`file:line: what Postgres said`, the line being the file's own (not Postgres's source
    line): of the failing statement, or of the failing line inside its DO block."""
    diag = exc.diag
    message = (diag.message_primary or str(exc)).strip()
    line = statement.code_line
    lines_before = statement.code_line - statement.line
    code_start = sum(len(part) for part in statement.text.splitlines(True)[:lines_before])
    inner = _PL_LINE.search(diag.context or "")
    if inner and statement.text[code_start:].lower().startswith("do"):
        body = statement.text.find("$", statement.text.find("$", code_start) + 1) + 1
        line = statement.line + statement.text[:body].count("\n") + int(inner.group(1)) - 1
    elif diag.statement_position:
        line = statement.line + statement.text[: int(diag.statement_position) - 1].count("\n")
    detail = f" ({diag.message_detail.strip()})" if diag.message_detail else ""
    hint = ""
    if _NOT_SUPABASE.search(message):
        hint = (
            "; this looks like plain Postgres without Supabase's schemas and roles: install"
            " the local surface first with `cuecast migrate --local-supabase`"
        )
    return f"{migration.path.name}:{line}: {message}{detail}; the file was rolled back{hint}"


def _normalise(statements: list[str]) -> list[str]:
    """Statements compared for edits: comments, whitespace and trailing semicolons ignored."""
    out = []
    for statement in statements:
        text = " ".join(strip_comments(statement).split()).rstrip(";").strip()
        if text:
            out.append(text)
    return out
