"""Named queries from `sql/queries.sql`, composed with psycopg.sql for the stage's tables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from psycopg import sql

from shared.domain import Stage

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


@dataclass(frozen=True)
class StageTable:
    """The job table behind a stage, and the names its queries are composed with (its claim
    and finish functions are cuecast.claim_<table> and cuecast.finish_<table>)."""

    stage: Stage
    table: str
    key: str  # the column a message's id matches
    error: str  # where the last error is written
    ready: str  # name of the readiness fragment

    def query(self, name: str) -> sql.Composed:
        return sql.SQL(raw(name)).format(
            table=sql.Identifier("public", self.table),
            key=sql.Identifier(self.key),
            error=sql.Identifier(self.error),
            ready=sql.SQL(raw(self.ready)),
            claim=sql.Identifier("cuecast", f"claim_{self.table}"),
            finish=sql.Identifier("cuecast", f"finish_{self.table}"),
        )


TABLES: dict[Stage, StageTable] = {
    Stage.ANALYSIS: StageTable(
        Stage.ANALYSIS, "analysis_jobs", "id", "error_message", "ready_always"
    ),
    Stage.SSML: StageTable(Stage.SSML, "ssml_jobs", "feedback_id", "last_error", "ready_always"),
    Stage.AUDIO: StageTable(
        Stage.AUDIO, "audio_jobs", "feedback_id", "last_error", "ready_after_ssml"
    ),
}
