"""The canonical schema: a normalised catalog query over what the migrations create.

`python -m tests.schema_snapshot --write` (or `make snapshot`) regenerates
tests/schema.snapshot after a deliberate schema change; the test only reads it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

SNAPSHOT = Path(__file__).with_name("schema.snapshot")
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
    "policies": """
        select schemaname || '.' || tablename || ' "' || policyname || '" ' || permissive
               || ' ' || cmd || ' to ' || array_to_string(roles, ',')
               || coalesce(' using ' || qual, '') || coalesce(' check ' || with_check, '')
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


def _fresh_snapshot(admin: str) -> str:
    from shared import migrate
    from tests.pg import with_database

    name = f"cuecast_snap_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        url = with_database(admin, name)
        migrate.install_local_supabase(url)
        migrate.migrate(url)
        return snapshot(url)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def main() -> int:
    from tests.pg import admin_url

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="regenerate the committed file")
    args = parser.parse_args()
    text = _fresh_snapshot(admin_url())
    if args.write:
        SNAPSHOT.write_text(text)
        print(f"wrote {SNAPSHOT} ({len(text.splitlines())} lines)")
        return 0
    out = Path(tempfile.gettempdir()) / "cuecast-schema.snapshot"
    out.write_text(text)
    same = SNAPSHOT.exists() and SNAPSHOT.read_text() == text
    print(f"{'matches' if same else 'differs from'} {SNAPSHOT}; current schema in {out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
