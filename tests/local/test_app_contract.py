"""docs/app.md, run: every SQL block of the guide, in its order, as the app runs it (role
`authenticated` with the user's JWT claims, as PostgREST and the Storage API set them), with
the real pipeline between the upload and the results. A block marked `fails:` must fail
with that message; the others must succeed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from shared.sample_video import write_sample_video
from tests.bus import deliver_until_idle
from tests.pipeline.harness import pipeline
from tests.supa import acting_as, create_user, set_webhook_secrets

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "app.md"
STEP = re.compile(
    r"<!-- test: (?P<name>[\w-]+)(?: -> (?P<sets>\w+))?(?:; fails: (?P<fails>.+?))? -->\n"
    r"```sql\n(?P<sql>.*?)```",
    re.S,
)


def steps() -> list[dict[str, Any]]:
    return [m.groupdict() for m in STEP.finditer(GUIDE.read_text(encoding="utf-8"))]


def _bind(text: str, values: dict[str, Any]) -> sql.Composed:
    """psql-style `:'name'` and `:name` placeholders, filled with literals."""
    pieces = re.split(r"(:'\w+'|(?<![:\w]):\w+)", text)
    parts: list[sql.Composable] = []
    for piece in pieces:
        found = re.fullmatch(r":'?(\w+)'?", piece)
        parts.append(sql.Literal(values[found.group(1)]) if found else sql.SQL(piece))
    return sql.Composed(parts)


def test_the_guide_has_every_step():
    names = [s["name"] for s in steps()]
    assert names[:4] == ["upload", "upload-elsewhere", "record", "complete"]
    assert {"progress", "items", "results", "signed-url-check"} <= set(names)
    assert sum(1 for s in steps() if s["fails"]) >= 5


def test_the_guide_runs_as_the_app(conn, db_url, tmp_path):
    user, other = create_user(conn), create_user(conn)
    values: dict[str, Any] = {
        "path": f"{user}/swing.mp4",
        "someone_else": str(other),
        "someone_elses_path": f"{other}/theirs.mp4",
    }
    buckets = dict(conn.execute("select id, file_size_limit from storage.buckets").fetchall())
    assert buckets["raw"] == 500 * 1024 * 1024  # what the guide says
    realtime = conn.execute(
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
    ).fetchall()
    assert {("analysis_jobs",), ("analysis_feedback",)} <= set(realtime)

    with pipeline(db_url, tmp_path) as p:
        set_webhook_secrets(conn, "http://127.0.0.1/webhook", p.secret)
        write_sample_video(tmp_path / "swing.mp4")
        results: dict[str, list[tuple[Any, ...]]] = {}
        for step in steps():
            if step["name"] == "progress":  # the pipeline runs, as it would after `complete`
                raw = (tmp_path / "swing.mp4").read_bytes()
                p.storage.upload("raw", values["path"], raw, "video/mp4")
                assert p.ring_webhooks(conn) == 1
                deliver_until_idle(p.bus, timeout=120)
                # Supabase Storage records each object the audio function uploads (as the
                # service role); local storage keeps only the bytes, so record them here.
                with acting_as(conn, "service_role"):
                    for name in p.storage.list("processed", ""):
                        conn.execute(
                            "insert into storage.objects (bucket_id, name)"
                            " values ('processed', %s)",
                            (name,),
                        )
            statement = _bind(step["sql"], values)
            if step["fails"]:
                with pytest.raises(psycopg.Error) as failed, acting_as(conn, "authenticated", user):
                    conn.execute(statement)
                assert step["fails"].strip() in str(failed.value), step["name"]
                continue
            with acting_as(conn, "authenticated", user):
                cursor = conn.execute(statement)
                rows = cursor.fetchall() if cursor.description else []
            results[step["name"]] = rows
            if step["sets"]:
                assert len(rows) == 1 and rows[0][-1] is not None, (step["name"], rows)
                values[step["sets"]] = rows[0][-1]

    assert results["progress"] == [("completed", 100, None)]
    items = results["items"]
    assert len(items) >= 3
    assert all(s in ("completed", "skipped") and s == a for *_, s, a in items), items
    assert values["audio_url"].startswith(f"{user}/{values['job_id']}/")
    assert results["signed-url-check"] == [(values["audio_url"],)]
    with acting_as(conn, "authenticated", other):  # someone else: no row, no signed URL
        check = next(s for s in steps() if s["name"] == "signed-url-check")
        assert conn.execute(_bind(check["sql"], values)).fetchall() == []
        updated = conn.execute(
            "update public.video_recordings set upload_status = 'failed' where id = %s",
            (values["video_id"],),
        )
        assert updated.rowcount == 0  # not an error: the row is not there for them
