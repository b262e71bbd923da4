"""The whole access matrix, through the policies as Supabase applies them (role + claims).

Every public table and view and every function in schemas public and cuecast — listed from
the canonical schema (tests/schema.snapshot, which the schema test holds equal to what the
migrations create; checked against the live catalog here too) — for user A, user B, a
signed-in stranger with no rows, `anon` and `service_role`: select, insert, update, move
(re-point a row at another owner), delete, execute. Every write runs in a transaction that is
rolled back, so all cases share one world that never changes.

The rules are generic, so a new table or function is covered as soon as it is migrated:
- service_role sees every row and writes every table;
- a signed-in user sees exactly the rows that trace to its own video, except in the
  service-role-only tables, where it sees nothing; anon sees nothing;
- a signed-in user writes only its own `video_recordings` rows and moves no row to another
  owner; anon writes nothing;
- anon and authenticated execute no function but the ownership checks, which answer true
  only for the caller's own rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.db.helpers import add_feedback, analysis_job
from tests.supa import acting_as, create_user

SNAPSHOT = Path(__file__).parents[1] / "schema.snapshot"
SERVICE_ROLE_ONLY = {"ssml_jobs", "audio_jobs"}
OWNER_WRITABLE = {"video_recordings"}
OWNERSHIP_CHECKS = {"cuecast.owns_analysis_job", "cuecast.owns_feedback"}
LINKS = {  # column → the world id it holds, in the order a row's owner is traced
    "user_id": "user",
    "video_recording_id": "video",
    "analysis_job_id": "job",
    "feedback_id": "feedback",
}
ARGUMENTS = {  # argument name → the world id passed for it (or a constant)
    "p_feedback_id": "feedback",
    "p_analysis_job_id": "job",
    "p_video_recording_id": "video",
    "p_text": " ",
    "p_key": "feedback",  # the stage functions' message id (a job id for analysis: none such)
    "p_id": "feedback",
    "p_lease_seconds": 300,
    "p_max_attempts": 5,
    "p_generation": 1,
    "p_attempts": 1,
    "p_provider": "matrix",
    "p_version": "1",
    "p_format": "wav",
    "p_indexes": [0],
    "p_ssml": ["<speak>hi</speak>"],
    "p_urls": ["u/1/1/1/0.wav"],
    "p_durations": [1],
    "p_voice": '{"name": "en-US-Neural2-D", "language": "en-US", "style": "coach"}',
    "p_stage": "ssml",
    "p_message_id": "matrix-1",
    "p_op": "UPDATE",
    "p_table": "ssml_jobs",
    "p_record": '{"feedback_id": 1}',
    "p_old_record": "{}",
}
ACTORS = {
    "A": "authenticated",
    "B": "authenticated",
    "stranger": "authenticated",
    "anon": "anon",
    "service_role": "service_role",
}
OTHER = {"A": "B", "B": "A", "stranger": "A", "anon": "A"}  # whose rows an actor targets


def _section(title: str) -> list[str]:
    body = SNAPSHOT.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in body.splitlines() if line]


def _name(line: str) -> str:
    found = re.match(r"[\w.]+", line)
    assert found, line
    return found.group(0)


RELATIONS = sorted({_name(line) for line in _section("table privileges")})  # public ones
FUNCTIONS = sorted(_name(line) for line in _section("functions"))
TRIGGER_FUNCTIONS = {_name(line) for line in _section("functions") if " returns trigger" in line}


@dataclass
class World:
    conn: psycopg.Connection[Any]
    users: dict[str, dict[str, Any]]
    rows: dict[str, dict[str | None, list[str]]]  # relation → owner → rows as JSON text
    base_tables: set[str]

    def user(self, actor: str) -> Any:
        return self.users[actor]["user"] if actor in self.users else None


class _Rollback(Exception):
    pass


def attempt(world: World, actor: str, statement: sql.Composable, params: Any = ()) -> tuple:
    """Run as the actor in a rolled-back transaction; what happened, as a comparable tuple."""
    result: tuple = ()
    try:
        with acting_as(world.conn, ACTORS[actor], world.user(actor)):
            cur = world.conn.execute(statement, params)
            result = ("rows", cur.rowcount if cur.description is None else cur.fetchall())
            raise _Rollback
    except _Rollback:
        return result
    except psycopg.errors.InsufficientPrivilege:  # no grant, or a row-level security check
        return ("denied",)
    except (psycopg.errors.ObjectNotInPrerequisiteState, psycopg.errors.FeatureNotSupported):
        return ("not writable",)  # a view that is not updatable; a trigger-only function
    except psycopg.errors.IntegrityError:
        return ("passed the policies, then hit a constraint",)


def _owner(row: dict[str, Any], users: dict[str, dict[str, Any]]) -> str | None:
    for column, key in LINKS.items():
        if column in row:
            return next((n for n in ("A", "B") if row[column] == users[n][key]), None)
    return None  # a row that traces to nobody belongs to nobody


def _rows(conn: psycopg.Connection[Any], users: dict, table: str) -> dict[str | None, list]:
    query = sql.SQL("select to_jsonb(t)::text from {} t").format(sql.Identifier("public", table))
    found: dict[str | None, list[str]] = {"A": [], "B": [], "stranger": [], None: []}
    for (text,) in conn.execute(query):
        found[_owner(json.loads(text), users)].append(text)
    return {owner: sorted(rows) for owner, rows in found.items()}


def _stringify(users: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Ids as to_jsonb writes them: uuids as strings, bigints as numbers."""
    return {n: {k: str(v) if k == "user" else v for k, v in u.items()} for n, u in users.items()}


@pytest.fixture(scope="module")
def world(module_db_url: str):
    """Users A and B with a row in every table, and a stranger with none."""
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        users: dict[str, dict[str, Any]] = {"stranger": {"user": create_user(conn)}}
        for name in ("A", "B"):
            user, video, job = analysis_job(conn)
            feedback = add_feedback(conn, job, 0, f"Message for {name}.")
            conn.execute(
                "insert into analysis_ssml_segments (feedback_id, segment_index, ssml)"
                " values (%s, 0, '<speak>x</speak>')",
                (feedback,),
            )
            conn.execute("select cuecast.enqueue_audio(%s)", (feedback,))
            conn.execute(
                "insert into analysis_audio_segments (feedback_id, segment_index, audio_url,"
                " format) values (%s, 0, %s, 'wav')",
                (feedback, f"{user}/{job}/{feedback}/1/0.wav"),
            )
            users[name] = {"user": user, "video": video, "job": job, "feedback": feedback}
        keyed = _stringify(users)
        base = conn.execute(
            "select relname from pg_class where relnamespace = 'public'::regnamespace"
            " and relkind in ('r', 'p')"
        ).fetchall()
        yield World(
            conn, users, {t: _rows(conn, keyed, t) for t in RELATIONS}, {b for (b,) in base}
        )


def _columns(world: World, table: str) -> list[str]:
    """Columns a row can be written with (not identity, not generated)."""
    rows = world.conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0"
        " and not attisdropped and attidentity = '' and attgenerated = '' order by attnum",
        (f"public.{table}",),
    ).fetchall()
    return [name for (name,) in rows]


def _target(world: World, table: str, owner: str) -> sql.Composable:
    rows = world.rows[table][owner]
    assert rows, f"the world has no {table} row of {owner}"
    return sql.SQL("to_jsonb(t) = any({}::jsonb[])").format(sql.Literal(rows))


def allowed(outcome: tuple) -> bool:
    return outcome[0] == "passed the policies, then hit a constraint" or (
        outcome[0] == "rows" and outcome[1] not in (0, [])
    )


def may_write(world: World, table: str, actor: str, owner: str) -> bool:
    if actor == "service_role":
        return table in world.base_tables
    return actor == owner and table in OWNER_WRITABLE


def check_select(world: World, table: str, actor: str) -> None:
    query = sql.SQL("select to_jsonb(t)::text from {} t").format(sql.Identifier("public", table))
    outcome = attempt(world, actor, query)
    seen = sorted(text for (text,) in outcome[1]) if outcome[0] == "rows" else []
    every = sorted(text for rows in world.rows[table].values() for text in rows)
    if actor == "service_role":
        assert seen == every
    elif actor in ("A", "B") and table not in SERVICE_ROLE_ONLY:
        assert seen == world.rows[table][actor]
    else:
        assert seen == [], outcome


def check_insert(world: World, table: str, actor: str) -> None:
    columns = sql.SQL(", ").join(map(sql.Identifier, _columns(world, table)))
    for owner in ("A", "B"):
        row = world.rows[table][owner][0]
        statement = sql.SQL(
            "insert into {t} ({c}) select {c} from jsonb_populate_record(null::{t}, {r})"
        )
        statement = statement.format(
            t=sql.Identifier("public", table), c=columns, r=sql.Literal(row)
        )
        outcome = attempt(world, actor, statement)
        assert allowed(outcome) == may_write(world, table, actor, owner), (owner, outcome)


def check_update(world: World, table: str, actor: str) -> None:
    column = sql.Identifier(_columns(world, table)[0])
    for owner in ("A", "B"):
        statement = sql.SQL("update {} as t set {} = t.{} where {}").format(
            sql.Identifier("public", table), column, column, _target(world, table, owner)
        )
        outcome = attempt(world, actor, statement)
        assert allowed(outcome) == may_write(world, table, actor, owner), (owner, outcome)


def check_delete(world: World, table: str, actor: str) -> None:
    for owner in ("A", "B"):
        statement = sql.SQL("delete from {} as t where {}").format(
            sql.Identifier("public", table), _target(world, table, owner)
        )
        outcome = attempt(world, actor, statement)
        assert allowed(outcome) == may_write(world, table, actor, owner), (owner, outcome)


def check_move(world: World, table: str, actor: str) -> None:
    """Re-point a row at another owner through every link column: never allowed."""
    victim = "A" if actor in ("anon", "stranger") else actor
    for column in [c for c in LINKS if c in _columns(world, table)]:
        value = world.users[OTHER[victim]][LINKS[column]]
        statement = sql.SQL("update {} as t set {} = {} where {}").format(
            sql.Identifier("public", table),
            sql.Identifier(column),
            sql.Literal(value),
            _target(world, table, victim),
        )
        outcome = attempt(world, actor, statement)
        assert not allowed(outcome), (column, outcome)


CHECKS = {
    "select": check_select,
    "insert": check_insert,
    "update": check_update,
    "move": check_move,
    "delete": check_delete,
}
TABLE_CASES = [
    (table, actor, operation)
    for table in RELATIONS
    for actor in ACTORS
    for operation in CHECKS
    if not (operation == "move" and actor == "service_role")
]


@pytest.mark.parametrize(("table", "actor", "operation"), TABLE_CASES)
def test_relation(world, table, actor, operation):
    CHECKS[operation](world, table, actor)


def _call(world: World, function: str, owner: str) -> sql.Composable:
    names = world.conn.execute(  # the input arguments' names (a table function has outputs too)
        "select coalesce(array(select a.name from unnest(p.proargnames, p.proargmodes)"
        "   as a(name, mode) where a.mode is null or a.mode in ('i', 'b', 'v')), '{}')"
        " from pg_proc as p where p.oid = %s::regproc",
        (function,),
    ).fetchone()[0]
    unknown = [name for name in names if name not in ARGUMENTS]
    assert not unknown, f"{function}: add how to call it with {unknown}"
    values = [ARGUMENTS[name] for name in names]
    args = [sql.Literal(world.users[owner].get(v, v) if isinstance(v, str) else v) for v in values]
    schema, name = function.split(".")
    return sql.SQL("select {}({})").format(sql.Identifier(schema, name), sql.SQL(", ").join(args))


@pytest.mark.parametrize(("function", "actor"), [(f, a) for f in FUNCTIONS for a in ACTORS])
def test_function(world, function, actor):
    for owner in ("A", "B"):
        outcome = attempt(world, actor, _call(world, function, owner))
        if actor == "service_role":
            trigger_only = function in TRIGGER_FUNCTIONS and outcome == ("not writable",)
            assert trigger_only or outcome[0] == "rows", outcome
        elif function in OWNERSHIP_CHECKS and actor != "anon":
            assert outcome == ("rows", [(actor == owner,)])
        else:
            assert outcome == ("denied",), (owner, outcome)


def test_the_matrix_covers_the_live_catalog(world):
    relations = world.conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')"
    ).fetchall()
    functions = world.conn.execute(
        "select n.nspname || '.' || p.proname from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname in ('public', 'cuecast') and not exists (select 1 from pg_depend d"
        "   where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')"
    ).fetchall()
    assert sorted(r for (r,) in relations) == RELATIONS
    assert sorted(f for (f,) in functions) == FUNCTIONS
    assert len(TABLE_CASES) + len(FUNCTIONS) * len(ACTORS) >= 200


def test_cuecast_tables_are_no_api_roles_business(world):
    """cuecast's own tables (the adoption archive, the reconciler's probes, the re-runs) are read by
    operators as the owner, or through cuecast's functions; no API role, the service role
    included, may touch them."""
    granted = world.conn.execute(
        "select c.relname, r.role from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " cross join unnest(array['anon', 'authenticated', 'service_role']) as r(role)"
        " where n.nspname = 'cuecast' and c.relkind in ('r', 'v')"
        "   and has_table_privilege(r.role, c.oid, 'select,insert,update,delete')"
    ).fetchall()
    tables = world.conn.execute(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'cuecast' and c.relkind = 'r'"
    ).fetchone()
    assert tables == (3,)  # cuecast.archived_rows, doorbell_probes, reruns
    assert granted == []
