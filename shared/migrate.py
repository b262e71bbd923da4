"""Apply `migrations/*.sql` in name order, recording them as the Supabase CLI does.

Each file runs in its own transaction together with its row in
`supabase_migrations.schema_migrations (version, statements, name)`, so `supabase migration
list` and `cuecast migrate` agree on what is applied. A file that was applied and then edited
is refused (its statements no longer match the recorded ones); a failing file rolls back
alone and the error names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql

from shared.errors import CuecastError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")

_SETUP = sql.SQL("""
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key
);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
""")


class MigrationError(CuecastError):
    """A migration could not be applied, or the applied history does not match the files."""


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


def install_local_supabase(conninfo: str) -> None:
    """The Supabase surface for plain Postgres (tests and local runs only)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL(local_supabase_sql()))


def migrate(
    conninfo: str, directory: Path = MIGRATIONS_DIR, *, upto: str | None = None
) -> list[Migration]:
    """Apply every pending migration (up to version `upto`, inclusive, when given); return
    those applied (empty when up to date)."""
    migrations = [m for m in discover(directory) if upto is None or m.version <= upto]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(_SETUP)
        applied = _applied(conn)
        _check_unchanged(migrations, applied)
        done = []
        for migration in migrations:
            if migration.version not in applied:
                _apply(conn, migration)
                done.append(migration)
    return done


def pending(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = discover(directory)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(_SETUP)
        applied = _applied(conn)
    return [m for m in migrations if m.version not in applied]


def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, list[str] | None]:
    rows = conn.execute(
        sql.SQL("select version, statements from supabase_migrations.schema_migrations")
    ).fetchall()
    return {str(version): statements for version, statements in rows}  # type: ignore[misc]


def _check_unchanged(migrations: list[Migration], applied: dict[str, list[str] | None]) -> None:
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is None:  # not applied, or applied by a tool that kept no statements
            continue
        if _normalise(recorded) != _normalise(migration.statements()):
            raise MigrationError(
                f"{migration.path.name} was applied as version {migration.version} and has "
                "been edited since; migrations are immutable once applied: revert the edit "
                "and put the change in a new migration file"
            )


def _apply(conn: psycopg.Connection[tuple[object, ...]], migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("lock table supabase_migrations.schema_migrations in exclusive mode")
            )
            already = conn.execute(
                sql.SQL("select 1 from supabase_migrations.schema_migrations where version = %s"),
                (migration.version,),
            ).fetchone()
            if already:  # another migrator got here first
                return
            conn.execute(sql.SQL(migration.text))
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
    except psycopg.Error as exc:
        diag = exc.diag
        where = f" (line {diag.source_line})" if diag and diag.source_line else ""
        raise MigrationError(
            f"{migration.path.name} failed and was rolled back: "
            f"{(diag.message_primary if diag and diag.message_primary else str(exc)).strip()}"
            f"{' - ' + diag.context.strip() if diag and diag.context else ''}{where}"
        ) from exc


def _normalise(statements: list[str]) -> list[str]:
    """Statements compared for edits: comments, whitespace and trailing semicolons ignored."""
    out = []
    for statement in statements:
        text = " ".join(_strip_comments(statement).split()).rstrip(";").strip()
        if text:
            out.append(text)
    return out


def split_statements(text: str) -> list[str]:
    """Split SQL into statements at top-level semicolons (quotes, dollar quotes and comments
    respected), each kept with its semicolon, as the Supabase CLI records them."""
    statements: list[str] = []
    start = 0
    for end in _statement_ends(text):
        chunk = text[start:end].strip()
        if _strip_comments(chunk).strip(" \t\r\n;"):
            statements.append(chunk)
        start = end
    tail = text[start:].strip()
    if _strip_comments(tail).strip():
        statements.append(tail)
    return statements


_TOKEN = re.compile(
    r"""(?P<line>--[^\n]*)|(?P<block>/\*)|(?P<single>[eE]?')|(?P<ident>")"""
    r"""|(?P<dollar>\$[A-Za-z_]?[A-Za-z0-9_]*\$)|(?P<semi>;)"""
)


def _statement_ends(text: str) -> list[int]:
    ends = []
    pos = 0
    while match := _TOKEN.search(text, pos):
        kind = match.lastgroup
        if kind == "semi":
            ends.append(match.end())
            pos = match.end()
        else:
            pos = _skip(text, match, kind or "")
    return ends


def _skip(text: str, match: re.Match[str], kind: str) -> int:
    """The position just after the comment, string or dollar-quoted body starting at `match`."""
    start = match.end()
    if kind == "line":
        return start
    if kind == "block":
        depth = 1
        pos = start
        while depth and pos < len(text):
            if text.startswith("/*", pos):
                depth, pos = depth + 1, pos + 2
            elif text.startswith("*/", pos):
                depth, pos = depth - 1, pos + 2
            else:
                pos += 1
        return pos
    if kind == "dollar":
        close = text.find(match.group(), start)
        return len(text) if close < 0 else close + len(match.group())
    quote = '"' if kind == "ident" else "'"
    escapes = match.group().lower().startswith("e")
    pos = start
    while pos < len(text):
        char = text[pos]
        if escapes and char == "\\":
            pos += 2
            continue
        if char == quote:
            if text.startswith(quote * 2, pos):
                pos += 2
                continue
            return pos + 1
        pos += 1
    return pos


def _strip_comments(text: str) -> str:
    out = []
    pos = 0
    while match := _TOKEN.search(text, pos):
        kind = match.lastgroup or ""
        if kind in ("line", "block"):
            out.append(text[pos : match.start()])
            pos = _skip(text, match, kind)
        else:
            end = match.end() if kind == "semi" else _skip(text, match, kind)
            out.append(text[pos:end])
            pos = end
    out.append(text[pos:])
    return "".join(out)
