"""Adopting the app's own database (tests/preplan: its pre-plan schema, rows and CLI
history): every migration applies as hosted Supabase's non-superuser `postgres`, every row
is accounted for, and what the app relied on keeps working."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from shared import migrate
from tests import preplan
from tests.supa import acting_as

A = "00000000-0000-0000-0000-0000000000a1"
B = "00000000-0000-0000-0000-0000000000b1"
RUN_ONE, RUN_TWO = "00000000-0000-0000-0000-00000000a060", "00000000-0000-0000-0000-00000000a061"
APP_TABLES = (
    "video_recordings", "analysis_jobs", "analyses", "analysis_feedback",
    "analysis_audio_segments", "analysis_metrics", "profiles", "upload_sessions",
)  # fmt: skip
# What 03 renamed, to compare a segment with its pre-plan self.
SEGMENT_RENAMES = {
    "analysis_feedback_id": "feedback_id",
    "audio_duration_ms": "duration_ms",
    "audio_format": "format",
}


def _rows(conn: psycopg.Connection[Any], table: str, schema: str = "public") -> dict[str, dict]:
    query = sql.SQL("select to_jsonb(t) from {}.{} as t").format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    return {str(r["id"]): r for (r,) in conn.execute(query)}


def _before(url: str) -> dict[str, dict[str, dict]]:
    with psycopg.connect(url) as conn:
        return {table: _rows(conn, table) for table in APP_TABLES}


@pytest.fixture
def migrated(preplan_db):
    """(the pre-plan rows, a connection to the same database after `migrate`)."""
    before = _before(preplan_db)
    migrate.migrate(preplan_db)
    with psycopg.connect(preplan_db, autocommit=True) as conn:
        yield before, conn


def test_migrations_apply_as_the_hosted_non_superuser(preplan_db):
    with psycopg.connect(preplan_db) as conn:
        assert conn.execute(
            "select rolsuper from pg_roles where rolname = current_user"
        ).fetchone() == (False,)
    applied = migrate.migrate(preplan_db)
    assert [m.version for m in applied] == [m.version for m in migrate.discover()]
    assert migrate.migrate(preplan_db) == []


def test_every_row_is_live_or_archived_as_it_was(migrated):
    before, conn = migrated
    archived = {
        (table, row_id): (reason, data)
        for table, row_id, reason, data in conn.execute(
            "select table_name, row_id, reason, row_data from cuecast.archived_rows"
        )
    }
    snapshot = _rows(conn, "preplan_audio_segments", "cuecast")
    for table, rows in before.items():
        live = _rows(conn, table)
        for row_id, old in rows.items():
            if (table, row_id) in archived:
                assert row_id not in live, (table, row_id)
                assert archived[(table, row_id)][1] == old, (table, row_id)
                continue
            if table == "analysis_audio_segments":
                # every segment that was not archived is in the 03 snapshot, whole
                assert {k: snapshot[row_id][k] for k in old} == old, row_id
                if row_id not in live:
                    continue  # an older rendition: kept in the snapshot only
                new = {SEGMENT_RENAMES.get(k, k): v for k, v in old.items()}
                old_view = {k: v for k, v in new.items() if k in live[row_id]}
            else:
                assert row_id in live, (table, row_id)
                old_view = old
            changed = {k: (v, live[row_id][k]) for k, v in old_view.items() if live[row_id][k] != v}
            expected = EXPECTED_CHANGES.get((table, row_id), set())
            assert set(changed) == expected, (table, row_id, changed)
    assert {(t, i) for t, i in archived} == {
        ("analysis_jobs", "20"), ("analysis_jobs", "30"), ("analysis_jobs", "80"),
        ("analyses", "00000000-0000-0000-0000-00000000a030"), ("analysis_feedback", "300"),
        ("analysis_audio_segments", "1004"), ("analysis_metrics", "2"),
        ("analysis_feedback", "600"), ("analysis_audio_segments", "1007"),
    }  # fmt: skip
    assert archived[("analysis_jobs", "30")][0] == "video 3 has several jobs; job 31 kept"
    assert archived[("analysis_feedback", "600")][0] == (
        f"an earlier run of job 60 (analysis {RUN_TWO} is current)"
    )


# The only columns of kept rows whose values the adoption changes.
EXPECTED_CHANGES = {
    ("analysis_jobs", "50"): {"status", "error_message", "updated_at"},
    ("analysis_audio_segments", "1006"): set(),
}


def test_one_job_per_video_and_the_job_of_every_item(migrated):
    _, conn = migrated
    jobs = conn.execute(
        "select video_recording_id, id, status from analysis_jobs order by 1"
    ).fetchall()
    assert jobs == [
        (1, 10, "completed"), (2, 21, "completed"), (3, 31, "completed"), (5, 50, "failed"),
        (6, 60, "completed"), (8, 81, "failed"),
    ]  # fmt: skip
    (reason,) = conn.execute("select error_message from analysis_jobs where id = 50").fetchone()
    assert reason.startswith("left queued by the pre-plan pipeline")
    items = conn.execute(
        "select id, analysis_id::text, analysis_job_id, item_index from analysis_feedback"
        " order by id"
    ).fetchall()
    a10 = "00000000-0000-0000-0000-00000000a010"
    a21, a31 = "00000000-0000-0000-0000-00000000a021", "00000000-0000-0000-0000-00000000a031"
    assert items == [
        (100, a10, 10, 1), (101, a10, 10, 0), (102, a10, 10, 2), (103, a10, 10, 3),
        (104, a10, 10, 4), (210, a21, 21, 0), (310, a31, 31, 0), (311, a31, 31, 1),
        (610, RUN_TWO, 60, 0), (611, RUN_TWO, 60, 1),
    ]  # fmt: skip
    assert conn.execute(
        "select is_nullable from information_schema.columns"
        " where table_name = 'analysis_feedback' and column_name = 'analysis_job_id'"
    ).fetchone() == ("NO",)


def test_statuses_tell_the_truth(migrated):
    _, conn = migrated
    statuses = dict(
        (fid, (s, a))
        for fid, s, a in conn.execute("select id, ssml_status, audio_status from analysis_feedback")
    )
    assert statuses == {
        100: ("completed", "completed"),
        101: ("completed", "completed"),
        102: ("unrequested", "unrequested"),  # never had audio
        103: ("skipped", "skipped"),  # a blank message
        104: ("completed", "unrequested"),  # SSML written, audio never made
        210: ("completed", "completed"),
        310: ("completed", "completed"),
        311: ("unrequested", "completed"),  # audio made from SSML that was blank
        610: ("completed", "completed"),
        611: ("completed", "completed"),
    }


def test_an_item_plays_its_newest_rendition(migrated):
    _, conn = migrated
    audio = conn.execute(
        "select feedback_id, segment_index, id, audio_url, format, duration_ms"
        " from analysis_audio_segments order by feedback_id"
    ).fetchall()
    assert [(f, i, sid) for f, i, sid, *_ in audio] == [
        (100, 0, 1001), (101, 0, 1002), (210, 0, 1003), (310, 0, 1005), (311, 0, 1006),
        (610, 0, 1008), (611, 0, 1010),
    ]  # fmt: skip
    assert audio[0][3:] == (f"{A}/10/100-b.mp3", "mp3", 1900)
    assert audio[1][3:] == (f"{A}/10/101.wav", "wav", None)
    ssml = conn.execute(
        "select feedback_id, segment_index, ssml, ssml_prompt, provider"
        " from analysis_ssml_segments order by feedback_id"
    ).fetchall()
    assert ssml == [
        (100, 0, "<speak>Keep your <emphasis>elbows</emphasis> in.</speak>", "ssml prompt v2",
         "gemini"),
        (101, 0, "<speak>Bend your knees more.</speak>", None, "gemini"),
        (104, 0, "<speak>Relax your shoulders.</speak>", "ssml prompt v2", "gemini"),
        (210, 0, "<speak>Stand tall.</speak>", "ssml prompt v2", "gemini"),
        (310, 0, "<speak>Grip lighter, like a bird.</speak>", None, "gemini"),
        (610, 0, "<speak>Weight on the lead foot.</speak>", None, "gemini"),
        (611, 0, '<speak>Hold <break time="300ms"/> the finish.</speak>', "ssml prompt v3",
         "gemini"),
    ]  # fmt: skip
    older = conn.execute(
        "select id, feedback_ssml, audio_prompt from cuecast.preplan_audio_segments"
        " where id in (1000, 1009, 1011) order by id"
    ).fetchall()
    assert older == [
        (1000, "<speak>Keep your elbows in.</speak>", "tts prompt v1"),
        (1009, "<speak>Hold the finish.</speak>", "tts prompt v2"),
        (1011, "<speak>Relax your shoulders.</speak>", None),
    ]
    # the app's view shows the played one only
    view = conn.execute(
        "select audio_segments from feedback_items_with_audio where feedback_id = 611"
    ).fetchone()[0]
    assert [s["audio_url"] for s in view] == [f"{B}/60/611-b.mp3"]


def test_no_provider_work_is_queued(migrated):
    _, conn = migrated
    assert conn.execute("select count(*) from ssml_jobs").fetchone() == (0,)
    assert conn.execute("select count(*) from audio_jobs").fetchone() == (0,)
    assert conn.execute(
        "select count(*) from analysis_jobs where status in ('queued', 'processing')"
    ).fetchone() == (0,)
    assert conn.execute("select count(*) from net.http_request_queue").fetchone() == (0,)


def test_the_app_history_stays_and_cuecast_follows_it(migrated):
    _, conn = migrated
    history = conn.execute(
        "select version, name from supabase_migrations.schema_migrations order by version"
    ).fetchall()
    app = [(v, n) for v, n, _ in preplan.APP_HISTORY]
    assert history[: len(app)] == app
    assert history[len(app) :] == [(m.version, m.name) for m in migrate.discover()]


def test_storage_keeps_the_apps_buckets_rules_and_policies(migrated):
    _, conn = migrated
    assert conn.execute(
        "select id, file_size_limit, allowed_mime_types from storage.buckets order by id"
    ).fetchall() == [
        ("processed", 104857600, ["audio/mpeg", "audio/wav", "audio/x-wav", "audio/wave"]),
        ("raw", 524288000, ["video/mp4", "video/quicktime"]),
    ]
    policies = conn.execute(
        "select policyname, cmd from pg_policies where schemaname = 'storage' order by 1"
    ).fetchall()
    assert policies == [
        ("Service role can manage processed files", "ALL"),
        ("Service role can manage raw files", "ALL"),
        ("Users can manage own raw files", "ALL"),
        ("Users can upload to own raw folder", "INSERT"),
        ("cuecast processed: owner reads", "SELECT"),
    ]
    with pytest.raises(psycopg.errors.RaiseException, match=r"only accepts \.mp4 or \.mov"):
        conn.execute("insert into storage.objects (bucket_id, name) values ('raw', 'a/b.txt')")
    # the owner reads their own processed audio, and nobody else's
    conn.execute(
        "insert into storage.objects (bucket_id, name) values ('processed', %s), ('processed', %s)",
        (f"{A}/9/9/1/0.mp3", f"{B}/9/9/1/0.mp3"),
    )
    with acting_as(conn, "authenticated", A):
        names = [
            n
            for (n,) in conn.execute(
                "select name from storage.objects where bucket_id = 'processed'"
            )
        ]
    assert sorted(names) == [f"{A}/10/100-b.mp3", f"{A}/9/9/1/0.mp3"]


def test_cuecast_policies_replace_the_apps_on_its_tables(migrated):
    _, conn = migrated
    names = {
        (t, p)
        for t, p in conn.execute(
            "select tablename, policyname from pg_policies where schemaname = 'public'"
        )
    }
    assert not any(p.startswith(("Users can", "Service role")) for t, p in names
                   if t not in ("analysis_metrics", "profiles", "upload_sessions"))  # fmt: skip
    assert ("analyses", "analyses_owner_select") in names
    assert ("profiles", "Public profiles are viewable by everyone") in names
    for role in ("anon", "authenticated"):
        assert conn.execute(
            "select has_function_privilege(%s, 'public.store_analysis_results"
            "(bigint, text, text, text, jsonb, text)', 'execute')",
            (role,),
        ).fetchone() == (False,)
    with (
        acting_as(conn, "authenticated", A),
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("update analysis_jobs set status = 'queued' where id = 10")


def test_analysis_id_keeps_working_for_the_apps_reads(migrated):
    _, conn = migrated
    with acting_as(conn, "authenticated", B):
        items = conn.execute(
            "select f.id from analysis_feedback f join analyses a on a.id = f.analysis_id"
            " where a.job_id = 60 order by f.id"
        ).fetchall()
        assert items == [(610,), (611,)]
        assert conn.execute(
            "select count(*) from analysis_feedback where analysis_id = %s", (RUN_TWO,)
        ).fetchone() == (2,)
    with acting_as(conn, "authenticated", A):  # not A's
        assert conn.execute(
            "select count(*) from analysis_feedback where analysis_id = %s", (RUN_TWO,)
        ).fetchone() == (0,)
        assert conn.execute("select count(*) from analyses where job_id = 60").fetchone() == (0,)


def test_one_completed_upload_makes_one_job(adopted_db):
    with psycopg.connect(adopted_db, autocommit=True) as conn:
        with acting_as(conn, "authenticated", A):
            video = conn.execute(
                "insert into video_recordings (user_id, filename, original_filename, file_size,"
                " duration_seconds, format, storage_path, upload_status, upload_progress,"
                " metadata) values (%s, 'new.mp4', 'IMG_9.MOV', 1234, 9, 'mp4', %s,"
                " 'uploading', 10, %s) returning id",
                (A, f"{A}/new.mp4", json.dumps({"device": "Pixel"})),
            ).fetchone()[0]
            for status in ("completed", "uploading", "completed"):
                conn.execute(
                    "update video_recordings set upload_status = %s, upload_progress = 100"
                    " where id = %s",
                    (status, video),
                )
        jobs = conn.execute(
            "select status from analysis_jobs where video_recording_id = %s", (video,)
        ).fetchall()
        assert jobs == [("queued",)]
        # and a re-upload of an old video whose job completed starts nothing new
        with acting_as(conn, "authenticated", A):
            conn.execute("update video_recordings set upload_status = 'uploading' where id = 1")
            conn.execute("update video_recordings set upload_status = 'completed' where id = 1")
        assert conn.execute(
            "select id, status from analysis_jobs where video_recording_id = 1"
        ).fetchall() == [(10, "completed")]


def test_the_old_writer_still_links_its_feedback(adopted_db):
    """Until the Edge Function is retired it writes feedback by `analysis_id`: the item gets
    its job and the next index, and is queued like any new item."""
    with psycopg.connect(adopted_db, autocommit=True) as conn:
        fid = conn.execute(
            "insert into analysis_feedback (analysis_id, timestamp_seconds, category, message)"
            " values ('00000000-0000-0000-0000-00000000a010', 20, 'Finish', 'Follow through.')"
            " returning id"
        ).fetchone()[0]
        assert conn.execute(
            "select analysis_job_id, item_index, ssml_status from analysis_feedback where id = %s",
            (fid,),
        ).fetchone() == (10, 5, "queued")


def test_a_role_that_may_not_create_storage_policies_gets_a_warning(preplan_db):
    """Newer hosted projects do not let `postgres` create policies on storage.objects: the
    migration still applies, and says which policies to create in the dashboard."""
    admin_db = preplan_db.replace(f"{preplan.HOSTED_ROLE}@", "postgres@", 1)
    with psycopg.connect(admin_db, autocommit=True) as conn:
        conn.execute(
            "do $$ begin create role storage_owner_elsewhere nologin;"
            " exception when duplicate_object or unique_violation then null; end $$"
        )
        conn.execute("alter table storage.objects owner to storage_owner_elsewhere")
    said: dict[str, list[str]] = {}
    migrate.migrate(preplan_db, on_applied=lambda m, lines: said.setdefault(m.name, lines))
    (warning,) = [line for line in said["storage_buckets"] if line.startswith("warning:")]
    assert "may not create policies on storage.objects" in warning
    assert "cuecast processed: owner reads" in warning
    with psycopg.connect(preplan_db) as conn:
        assert conn.execute(
            "select count(*) from pg_policies where policyname like 'cuecast %'"
        ).fetchone() == (0,)
