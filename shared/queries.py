"""Named queries from `sql/queries.sql`, composed with psycopg.sql for a stage's job table.

Only the database gateway (shared/db/) runs them.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from psycopg import sql

from shared.domain import Stage
from shared.stages import STAGES

_HEADER = re.compile(r"^-- name: (?P<name>\w+)\s*$", re.MULTILINE)


@cache
def _load(filename: str = "queries.sql") -> dict[str, str]:
    text = resources.files("shared").joinpath("sql", filename).read_text("utf-8")
    parts = _HEADER.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {
        name: "\n".join(line for line in body.strip().splitlines() if not line.startswith("--"))
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def raw(name: str) -> str:
    """One named query's text."""
    return _load()[name]


def stage_query(stage: Stage, name: str) -> sql.Composed:
    """A named query for one stage's job table: `{table}`, `{key}`, `{error}`, `{ready}`, and
    its claim and finish functions `{claim}` (cuecast.claim_<table>) and `{finish}`."""
    spec = STAGES[stage]
    return sql.SQL(raw(name)).format(
        table=sql.Identifier("public", spec.job_table),
        key=sql.Identifier(spec.key),
        error=sql.Identifier(spec.error_column),
        ready=sql.SQL(raw(spec.ready)),
        claim=sql.Identifier("cuecast", f"claim_{spec.job_table}"),
        finish=sql.Identifier("cuecast", f"finish_{spec.job_table}"),
    )
