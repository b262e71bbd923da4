"""Where the server's time per stage goes: each statement a stage runs, EXPLAIN ANALYZE'd
with the parameters the stage passes, warm, in rolled-back transactions — planning time
(paid on every execution, since cuecast cannot use prepared statements behind the
transaction pooler), execution time, and the part of it spent in triggers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from bench import common
from bench.common import median
from shared.domain import Stage
from shared.queries import TABLES, raw

POLICY = {"lease_seconds": 300, "max_attempts": 5}
_PLANNING = re.compile(r"Planning Time: ([\d.]+) ms")
_EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")
_TRIGGER = re.compile(r"Trigger .*: time=([\d.]+) calls=\d+")

Params = Callable[[int, tuple[Any, ...] | None], dict[str, Any]]


def _claim(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    return {"key": key, **POLICY}


def _finish(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    assert claim is not None
    return {"id": claim[0], "generation": claim[2], "attempts": claim[3]}


def _key(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    return {"feedback_id": key}


def _count(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    return {"feedback_id": key, "count": 1}


def _ssml_rows(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    return {
        "feedback_id": key,
        "provider": "bench",
        "version": "bench-1",
        "indexes": [0],
        "ssml": ["<speak><s>Keep your elbows in.</s></speak>"],
    }


def _audio_rows(key: int, claim: tuple[Any, ...] | None) -> dict[str, Any]:
    return {
        "feedback_id": key,
        "indexes": [0],
        "urls": [f"u/1/{key}/1/0.mp3"],
        "durations": [1000],
        "format": "mp3",
        "provider": "bench",
        "version": "bench-1",
    }


def steps(stage: Stage) -> list[tuple[str, sql.Composable, Params, bool]]:
    """(name, query, parameters, runs after the claim) in the order the stage runs them."""
    table = TABLES[stage]
    if stage is Stage.SSML:
        saves = [
            ("upsert_ssml_segments", _ssml_rows),
            ("delete_ssml_segments_from", _count),
            ("enqueue_audio", _key),
        ]
        load = "load_ssml_context"
    else:
        saves = [("upsert_audio_segments", _audio_rows), ("delete_audio_segments_from", _count)]
        load = "load_audio_context"
    return [
        ("claim_job", table.query("claim_job"), _claim, False),
        (load, sql.SQL(raw(load)), _key, True),
        ("finish_job", table.query("finish_job"), _finish, True),
        *[(name, sql.SQL(raw(name)), params, True) for name, params in saves],
    ]


def _explain(conn: psycopg.Connection[Any], query: sql.Composable, params: dict[str, Any]) -> str:
    cur = psycopg.ClientCursor(conn)
    cur.execute(sql.SQL("explain (analyze, summary) {}").format(query), params)
    return "\n".join(str(r[0]) for r in cur.fetchall())


def statement_costs(url: str, stage: Stage, key: int, reps: int = 30) -> list[dict[str, Any]]:
    """Median planning, execution and trigger ms of each statement of `stage` for item
    `key` (whose `stage` job is queued), over `reps` warm runs."""
    claim_sql = TABLES[stage].query("claim_job")
    found: dict[str, dict[str, list[float]]] = {}
    with common.connect(url) as conn:
        for rep in range(reps + 3):  # three to warm caches and PL/pgSQL
            for name, query, params, after_claim in steps(stage):
                with conn.transaction(force_rollback=True):
                    claim = None
                    if after_claim:
                        claim = conn.execute(claim_sql, _claim(key, None)).fetchone()
                    plan = _explain(conn, query, params(key, claim))
                if rep < 3:
                    continue
                times = found.setdefault(name, {"planning": [], "execution": [], "triggers": []})
                times["planning"].append(float(_PLANNING.findall(plan)[0]))
                times["execution"].append(float(_EXECUTION.findall(plan)[0]))
                times["triggers"].append(sum(float(t) for t in _TRIGGER.findall(plan)))
    return [
        {"stage": str(stage), "statement": name, **{k: median(v) for k, v in times.items()}}
        for name, times in found.items()
    ]
