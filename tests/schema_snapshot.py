"""The canonical schema: a normalised catalog query over what the migrations create, from
both starting points: tests/schema.snapshot (an empty project) and
tests/schema.adopted.snapshot (the app's pre-plan database of tests/preplan, migrated).

`python -m tests.schema_snapshot --write` (or `make snapshot`) regenerates both after a
deliberate schema change; the tests only read them. `differences()` names the objects in
which the two end states differ; docs/migrations.md must list exactly those.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

SNAPSHOT = Path(__file__).with_name("schema.snapshot")
ADOPTED_SNAPSHOT = Path(__file__).with_name("schema.adopted.snapshot")
SCHEMAS = ("public", "cuecast")
ROLES = ("anon", "authenticated", "service_role")

SECTIONS = {
    "columns": """
        select c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || case when a.attnotnull then ' not null' else '' end
               || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
               || case when a.attidentity <> '' then ' identity ' || a.attidentity::text else '' end
               || case when a.attgenerated <> '' then ' generated' else '' end
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'v')
          and a.attnum > 0 and not a.attisdropped
    """,
    "constraints": """
        select c.conrelid::regclass::text || ' ' || c.conname || ' '
               || pg_get_constraintdef(c.oid)
               || case when c.convalidated then '' else ' (not validated)' end
        from pg_constraint c join pg_namespace n on n.oid = c.connamespace
        where n.nspname = any(%(schemas)s) and c.conrelid <> 0
    """,
    "indexes": """
        select indexdef from pg_indexes where schemaname = any(%(schemas)s)
    """,
    "triggers": """
        select pg_get_triggerdef(t.oid)
        from pg_trigger t
        join pg_class c on c.oid = t.tgrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%(schemas)s) and not t.tgisinternal
    """,
    "functions": """
        select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)
               || ') returns ' || pg_get_function_result(p.oid)
               || case when p.prosecdef then ' security definer' else '' end
               || ' volatility=' || p.provolatile::text
               || coalesce(' config=' || array_to_string(p.proconfig, ','), '')
               || ' source=' || md5(p.prosrc)
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any(%(schemas)s)
    """,
    "row level security": """
        select c.relname || ' rls=' || c.relrowsecurity::text || ' options='
               || coalesce(array_to_string(c.reloptions, ','), '')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'v')
    """,
    "policies": r"""
        select schemaname || '.' || tablename || ' "' || policyname || '" ' || permissive
               || ' ' || cmd || ' to ' || array_to_string(roles, ',')
               || coalesce(' using ' || regexp_replace(qual, '\s+', ' ', 'g'), '')
               || coalesce(' check ' || regexp_replace(with_check, '\s+', ' ', 'g'), '')
        from pg_policies
        where schemaname = any(%(schemas)s)
           or (schemaname = 'storage' and policyname like 'cuecast%%')
    """,
    "table privileges": """
        select c.relname || ' ' || r.role || ' '
               || concat_ws(',',
                    case when has_table_privilege(r.role, c.oid, 'select') then 'select' end,
                    case when has_table_privilege(r.role, c.oid, 'insert') then 'insert' end,
                    case when has_table_privilege(r.role, c.oid, 'update') then 'update' end,
                    case when has_table_privilege(r.role, c.oid, 'delete') then 'delete' end)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        cross join unnest(%(roles)s::text[]) as r(role)
        where n.nspname = 'public' and c.relkind in ('r', 'v')
    """,
    "function privileges": """
        select n.nspname || '.' || p.proname || ' ' || r.role || ' '
               || has_function_privilege(r.role, p.oid, 'execute')::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        cross join unnest(%(roles)s::text[]) as r(role)
        where n.nspname = any(%(schemas)s)
    """,
    "publication": """
        select pubname || ' ' || schemaname || '.' || tablename from pg_publication_tables
        where pubname = 'supabase_realtime'
    """,
}


def snapshot(conninfo: str) -> str:
    """The schema as sorted text, one section per catalog aspect."""
    params = {"schemas": list(SCHEMAS), "roles": list(ROLES)}
    out: list[str] = []
    with psycopg.connect(conninfo) as conn:
        for title, query in SECTIONS.items():
            rows = sorted(str(r[0]) for r in conn.execute(sql.SQL(query), params))
            out.append(f"## {title}")
            out.extend(rows)
    return "\n".join(out) + "\n"


def sections(text: str) -> dict[str, set[str]]:
    """A snapshot's lines by section."""
    out: dict[str, set[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:]
            out[current] = set()
        elif line:
            out[current].add(line)
    return out


_ON_TABLE = re.compile(r" ON (?:ONLY )?(?:\w+\.)?(\w+) ")


def _on_table(line: str) -> tuple[str, str]:
    found = _ON_TABLE.search(line)
    assert found, line
    words = line.split(" ")
    name = words[words.index("INDEX") + 1] if "INDEX" in words else words[2]
    return found.group(1), name


def _first(line: str) -> str:
    return line.split(" ", 1)[0]


# section → (the table or function a snapshot line is about, the object itself)
_OBJECT = {
    "columns": lambda line: (_first(line).split(".", 1)[0], _first(line)),
    "constraints": lambda line: (_first(line).rsplit(".", 1)[-1], line.split(" ")[1]),
    "indexes": _on_table,
    "triggers": _on_table,
    "policies": lambda line: (_first(line).rsplit(".", 1)[-1], line.split('"')[1]),
    "publication": lambda line: (line.rsplit(".", 1)[-1],) * 2,
    "functions": lambda line: (_first(line).split("(", 1)[0],) * 2,
    "function privileges": lambda line: (_first(line),) * 2,
}


def _object(section: str, line: str) -> tuple[str, str]:
    """(owner, object); row level security and table privileges are about the table."""
    handler = _OBJECT.get(section, lambda line: (_first(line),) * 2)
    owner, thing = handler(line)
    return str(owner), str(thing)


def differences(fresh: str, adopted: str) -> list[str]:
    """The objects the two end states disagree on: a table or function that only one of them
    has, by its name; otherwise the column, constraint, index, trigger or policy."""
    a, b = sections(fresh), sections(adopted)
    owners = {
        side: {_object(t, line)[0] for t, lines in snap.items() for line in lines}
        for side, snap in (("fresh", a), ("adopted", b))
    }
    both = owners["fresh"] & owners["adopted"]
    found = set()
    for title in a.keys() | b.keys():
        for line in a.get(title, set()) ^ b.get(title, set()):
            owner, thing = _object(title, line)
            found.add(thing if owner in both else owner)
    return sorted(found)


def _migrated_snapshot(admin: str, *, adopted: bool) -> str:
    from shared import migrate
    from tests import preplan
    from tests.pg import with_database

    name = f"cuecast_snap_{uuid.uuid4().hex[:10]}"
    try:
        if adopted:
            url = preplan.create_database(admin, name)
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            url = with_database(admin, name)
            migrate.install_local_supabase(url)
        migrate.migrate(url)
        return snapshot(url)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def main() -> int:
    from tests.pg import admin_url

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="regenerate the committed files")
    args = parser.parse_args()
    status = 0
    for path, adopted in ((SNAPSHOT, False), (ADOPTED_SNAPSHOT, True)):
        text = _migrated_snapshot(admin_url(), adopted=adopted)
        if args.write:
            path.write_text(text)
            print(f"wrote {path} ({len(text.splitlines())} lines)")
            continue
        out = Path(tempfile.gettempdir()) / f"cuecast-{path.name}"
        out.write_text(text)
        same = path.exists() and path.read_text() == text
        print(f"{'matches' if same else 'differs from'} {path}; current schema in {out}")
        status = status or (0 if same else 1)
    if args.write:
        fresh, adopted_text = SNAPSHOT.read_text(), ADOPTED_SNAPSHOT.read_text()
        print("the end states differ in:", ", ".join(differences(fresh, adopted_text)))
    return status


if __name__ == "__main__":
    sys.exit(main())
