"""Upserts stay single rows; constraints reject bad rows; deletes cascade."""

from __future__ import annotations

import psycopg
import pytest

from tests.db.helpers import add_feedback, analysis_job
from tests.supa import insert_video

UNIQUE = [
    ("analysis_jobs", ["video_recording_id"]),
    ("analysis_feedback", ["analysis_job_id", "item_index"]),
    ("analysis_ssml_segments", ["feedback_id", "segment_index"]),
    ("analysis_audio_segments", ["feedback_id", "segment_index"]),
    ("ssml_jobs", ["feedback_id"]),
    ("audio_jobs", ["feedback_id"]),
]


@pytest.mark.parametrize(("table", "columns"), UNIQUE)
def test_plan_unique_constraints_exist(conn, table, columns):
    rows = conn.execute(
        """
        select array_agg(a.attname::text order by k.ord)
        from pg_constraint c
        cross join unnest(c.conkey) with ordinality as k(attnum, ord)
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
        where c.conrelid = %s::regclass and c.contype = 'u'
        group by c.oid
        """,
        (f"public.{table}",),
    ).fetchall()
    assert [columns] in [list(r) for r in rows]


@pytest.mark.parametrize("function", ["enqueue_ssml", "enqueue_audio"])
def test_enqueue_twice_leaves_one_row_reset(conn, function):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Chin up.")
    table = "ssml_jobs" if function == "enqueue_ssml" else "audio_jobs"
    first = conn.execute(f"select cuecast.{function}(%s)", (fid,)).fetchone()
    conn.execute(f"update {table} set status = 'failed', attempts = 4, last_error = 'x'")
    second = conn.execute(f"select cuecast.{function}(%s)", (fid,)).fetchone()
    assert first == second
    rows = conn.execute(f"select status, attempts, last_error from {table}").fetchall()
    assert rows == [("queued", 0, None)]


def test_ensure_analysis_job_twice_leaves_one_row(conn):
    _, video, job_id = analysis_job(conn)
    assert conn.execute("select cuecast.ensure_analysis_job(%s)", (video,)).fetchone() == (job_id,)
    assert conn.execute("select cuecast.ensure_analysis_job(%s)", (video,)).fetchone() == (job_id,)
    assert conn.execute("select count(*), max(generation) from analysis_jobs").fetchone() == (1, 1)


def test_ensure_analysis_job_for_unknown_video_is_null(conn):
    assert conn.execute("select cuecast.ensure_analysis_job(424242)").fetchone() == (None,)


def test_segment_upserts_leave_one_row(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Chin up.")
    for text in ("<speak>a</speak>", "<speak>b</speak>"):
        conn.execute(
            "insert into analysis_ssml_segments (feedback_id, segment_index, ssml)"
            " values (%s, 0, %s) on conflict (feedback_id, segment_index)"
            " do update set ssml = excluded.ssml",
            (fid, text),
        )
    assert conn.execute("select ssml from analysis_ssml_segments").fetchall() == [
        ("<speak>b</speak>",)
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "update analysis_jobs set status = 'running'",
        "update ssml_jobs set status = 'done'",
        "update audio_jobs set status = 'pending'",
        "update analysis_feedback set ssml_status = 'weird'",
        "update analysis_feedback set audio_status = 'done'",
        "update video_recordings set upload_status = 'lost'",
        "update video_recordings set format = 'avi'",
        "update analysis_jobs set progress_percentage = 101",
        "update analysis_feedback set confidence = 1.5",
        "update analysis_feedback set impact = -0.1",
        "update ssml_jobs set attempts = -1",
        "update analysis_feedback set item_index = -1",
        "update ssml_jobs set status = 'processing'",  # a processing job must hold a lease
    ],
)
def test_check_constraints_reject_bad_rows(conn, statement):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Chin up.")
    conn.execute("select cuecast.enqueue_audio(%s)", (fid,))
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(statement)


def test_oversized_ssml_segment_is_rejected(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Chin up.")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "insert into analysis_ssml_segments (feedback_id, segment_index, ssml)"
            " values (%s, 0, %s)",
            (fid, "<speak>" + "a" * 5000 + "</speak>"),
        )


def test_deleting_a_video_cascades_to_everything_under_it(conn):
    user, video, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Chin up.")
    conn.execute("select cuecast.enqueue_audio(%s)", (fid,))
    conn.execute(
        "insert into analysis_ssml_segments (feedback_id, segment_index, ssml) values (%s, 0, 'x')",
        (fid,),
    )
    conn.execute(
        "insert into analysis_audio_segments (feedback_id, segment_index, audio_url, format)"
        " values (%s, 0, 'u/1/1/1/0.wav', 'wav')",
        (fid,),
    )
    other = insert_video(conn, user, name="keep.mp4")
    conn.execute("delete from video_recordings where id = %s", (video,))
    for table in (
        "analysis_jobs",
        "analysis_feedback",
        "ssml_jobs",
        "audio_jobs",
        "analysis_ssml_segments",
        "analysis_audio_segments",
    ):
        assert conn.execute(f"select count(*) from {table}").fetchone() == (0,), table
    assert conn.execute("select id from video_recordings").fetchall() == [(other,)]
    conn.execute("delete from auth.users where id = %s", (user,))
    assert conn.execute("select count(*) from video_recordings").fetchone() == (0,)
