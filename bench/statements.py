"""Where the server's time per stage goes: the two statements each stage runs — the claim
with the stage's context (`claim_ssml` / `claim_audio`) and the finish with the stage's
writes (`finish_ssml` / `finish_audio`), each one call of a PL/pgSQL function
(migrations/20251201000001_stage_functions.sql) — with the parameters the stage passes,
EXPLAIN ANALYZE'd warm, each in a rolled-back transaction.

Outside: the statement's planning time (paid on every execution, since cuecast cannot use
prepared statements behind the transaction pooler; for a function call it is small) and
its execution time, which includes everything the functions and triggers do.

Inside: EXPLAIN of a function call shows a Function Scan and nothing more. The time of
each function it runs comes from the same EXPLAIN ANALYZE run with `track_functions = all`
(this session only; `pg_stat_xact_user_functions` before and after): per function, its
self time (its own statements — their planning included — without the functions and
triggers they run) and calls. Functions the statement reaches by name (the stage
functions, `enqueue_audio`, `ssml_completed`) are listed as they are; every other one ran
in a trigger, and their self times add up to the statement's trigger time.

auto_explain (`log_nested_statements`) was tried for a per-statement breakdown inside the
functions: it works as a superuser on this server, but it formats and sends each nested
plan while the enclosing statement runs, which made the stage statements 2 to 4 times
slower here (60 to 130 µs per nested statement, 5 to 13 of them per stage statement): not
a measure of them. bench/scale.py uses it for plans, where the times do not matter."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from bench import common
from bench.common import median
from shared.domain import Stage
from shared.queries import raw

POLICY = {"lease_seconds": 300, "max_attempts": 5}
_PLANNING = re.compile(r"Planning Time: ([\d.]+) ms")
_EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")
_TRIGGER = re.compile(r"Trigger .*: time=([\d.]+) calls=\d+")
_CALL = re.compile(r"\bcuecast\.(\w+)\s*\(", re.IGNORECASE)

Conn = psycopg.Connection[Any]
Params = Callable[[int, tuple[Any, ...] | None], dict[str, Any]]


# -- the functions a statement reaches ----------------------------------------------------


def squash(text: str) -> str:
    return " ".join(text.split())


def function_sources(conn: Conn) -> dict[str, str]:
    """The source of every function in schema cuecast, whitespace squashed."""
    rows = conn.execute(
        "select p.proname, string_agg(p.prosrc, ' ') from pg_proc as p"
        " join pg_namespace as n on n.oid = p.pronamespace"
        " where n.nspname = 'cuecast' group by p.proname"
    ).fetchall()
    return {str(name): squash(str(source)) for name, source in rows}


def called(text: str, sources: dict[str, str]) -> list[str]:
    """The cuecast functions a statement calls, directly or through the ones it calls (not
    through triggers), nearest first."""
    found: list[str] = []
    frontier = _CALL.findall(text)
    while frontier:
        name = frontier.pop(0).lower()
        if name in sources and name not in found:
            found.append(name)
            frontier += _CALL.findall(sources[name])
    return found


# -- the stages' statements ------------------------------------------------------------------


def _claim(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    return {"key": key, **POLICY}


def _claimed(claim: tuple[Any, ...] | None) -> dict[str, Any]:
    assert claim is not None
    return {"id": claim[0], "generation": claim[2], "attempts": claim[3]}


def _finish_ssml(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    return {
        **_claimed(claim),
        "provider": "bench",
        "version": "bench-1",
        "indexes": [0],
        "ssml": ["<speak><s>Keep your elbows in.</s></speak>"],
    }


def _finish_audio(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    return {
        **_claimed(claim),
        "indexes": [0],
        "urls": [f"u/1/{key}/1/0.mp3"],
        "durations": [1000],
        "format": "mp3",
        "provider": "bench",
        "version": "bench-1",
    }


def steps(stage: Stage) -> list[tuple[str, str, Params, bool]]:
    """(name, query, parameters, runs after the claim): the two statements of the stage
    (shared/services/ssml.py, audio.py), in order."""
    finish = _finish_ssml if stage is Stage.SSML else _finish_audio
    return [
        (f"claim_{stage}", raw(f"claim_{stage}"), _claim, False),
        (f"finish_{stage}", raw(f"finish_{stage}"), finish, True),
    ]


def _explain(conn: Conn, query: str, params: dict[str, Any]) -> str:
    cur = psycopg.ClientCursor(conn)
    cur.execute("explain (analyze, summary) " + query, params)
    return "\n".join(str(r[0]) for r in cur.fetchall())


FunctionTimes = dict[str, tuple[int, float]]  # function name → (calls, self ms)


def _function_times(conn: Conn) -> FunctionTimes:
    """This transaction's function calls so far (track_functions on), by function."""
    rows = conn.execute(
        "select funcname, sum(calls)::bigint, sum(self_time)::float8"
        " from pg_stat_xact_user_functions group by funcname"
    ).fetchall()
    return {str(name): (int(calls), float(ms)) for name, calls, ms in rows}


def _since(before: FunctionTimes, after: FunctionTimes) -> FunctionTimes:
    out: FunctionTimes = {}
    for name, (calls, ms) in after.items():
        calls0, ms0 = before.get(name, (0, 0.0))
        if calls > calls0:
            out[name] = (calls - calls0, ms - ms0)
    return out


def _track_functions(conn: Conn) -> bool:
    """track_functions = all for this session (a superuser setting); False if refused."""
    try:
        conn.execute("set track_functions = 'all'")
    except psycopg.Error:
        return False
    return True


@dataclass
class _Samples:
    """One statement's (or function's) samples, ms; calls per execution."""

    planning: list[float]
    execution: list[float]
    triggers: list[float]
    calls: list[float]


def _samples() -> _Samples:
    return _Samples([], [], [], [])


def statement_costs(url: str, stage: Stage, key: int, reps: int = 30) -> list[dict[str, Any]]:
    """Median planning, execution and trigger ms of each statement of `stage` for item
    `key` (whose `stage` job is queued), over `reps` warm runs; after each statement, the
    functions it ran with their self time (`inside`: "function" for the ones it calls by
    name, triggers None; "trigger" for those run by triggers, all of it trigger time;
    planning None)."""
    claim_sql = raw(f"claim_{stage}")
    outside: dict[str, _Samples] = {}
    inside: dict[str, dict[str, _Samples]] = {}
    kinds: dict[tuple[str, str], str] = {}  # (statement, function): function or trigger
    with common.connect(url) as conn:
        tracked = _track_functions(conn)
        sources = function_sources(conn)
        for rep in range(reps + 3):  # three to warm caches and PL/pgSQL
            for name, query, params, after_claim in steps(stage):
                with conn.transaction(force_rollback=True):
                    claim = None
                    if after_claim:
                        claim = conn.execute(claim_sql, _claim(key, None)).fetchone()
                    before = _function_times(conn) if tracked else {}
                    plan = _explain(conn, query, params(key, claim))
                    ran = _since(before, _function_times(conn)) if tracked else {}
                if rep < 3:
                    continue
                times = outside.setdefault(name, _samples())
                times.planning.append(float(_PLANNING.findall(plan)[0]))
                times.execution.append(float(_EXECUTION.findall(plan)[0]))
                reached = called(query, sources)
                in_triggers = sum(ms for f, (_, ms) in ran.items() if f not in reached)
                explained = sum(float(t) for t in _TRIGGER.findall(plan))
                times.triggers.append(in_triggers if tracked else explained)
                mine = inside.setdefault(name, {})
                order = sorted(
                    ran,
                    key=lambda f: (
                        f not in reached,
                        reached.index(f) if f in reached else 0,
                        -ran[f][1],
                    ),
                )
                for function in order:
                    kinds[(name, function)] = "function" if function in reached else "trigger"
                    found = mine.setdefault(function, _samples())
                    found.calls.append(ran[function][0])
                    found.execution.append(ran[function][1])
    out: list[dict[str, Any]] = []
    for name, times in outside.items():
        out.append(
            {
                "stage": str(stage),
                "statement": name,
                "inside": None,
                "calls": 1,
                "planning": median(times.planning),
                "execution": median(times.execution),
                "triggers": median(times.triggers),
            }
        )
        for function, found in inside.get(name, {}).items():
            kind = kinds[(name, function)]
            out.append(
                {
                    "stage": str(stage),
                    "statement": function,
                    "inside": kind,
                    "calls": median(found.calls),
                    "planning": None,
                    "execution": median(found.execution),
                    "triggers": median(found.execution) if kind == "trigger" else None,
                }
            )
    return out
