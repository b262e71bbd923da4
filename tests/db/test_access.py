"""The access matrix, through the policies as Supabase applies them (role + JWT claims)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.db.helpers import add_feedback, analysis_job
from tests.supa import acting_as, create_user

TABLES = [
    "video_recordings",
    "analysis_jobs",
    "analysis_feedback",
    "analysis_ssml_segments",
    "analysis_audio_segments",
    "ssml_jobs",
    "audio_jobs",
    "feedback_items_with_audio",
]
OWNER_COLUMN = {  # how each table's rows trace to a user, for counting what an actor sees
    "video_recordings": "user_id",
    "analysis_jobs": "user_id",
    "feedback_items_with_audio": "user_id",
}


def _owner_of(table: str) -> str:
    if table in OWNER_COLUMN:
        return f"t.{OWNER_COLUMN[table]}"
    feedback = "t.id" if table == "analysis_feedback" else "t.feedback_id"
    return (
        "(select j.user_id from analysis_feedback f join analysis_jobs j"
        f" on j.id = f.analysis_job_id where f.id = {feedback})"
    )


@pytest.fixture
def world(conn):
    """Users A and B, each with a video run through every stage, and storage objects."""
    users = {}
    for name in ("A", "B"):
        user, video, job_id = analysis_job(conn)
        fid = add_feedback(conn, job_id, 0, f"Message for {name}.")
        conn.execute(
            "insert into analysis_ssml_segments (feedback_id, segment_index, ssml)"
            " values (%s, 0, '<speak>x</speak>')",
            (fid,),
        )
        conn.execute("select cuecast.enqueue_audio(%s)", (fid,))
        conn.execute(
            "insert into analysis_audio_segments (feedback_id, segment_index, audio_url, format)"
            " values (%s, 0, %s, 'wav')",
            (fid, f"{user}/{job_id}/{fid}/1/0.wav"),
        )
        for bucket in ("raw", "processed"):
            conn.execute(
                "insert into storage.objects (bucket_id, name) values (%s, %s)",
                (bucket, f"{user}/file-{name}"),
            )
        users[name] = {"user": user, "video": video, "job": job_id, "feedback": fid}
    return users


def _try(conn, role, user, statement, params=()):
    try:
        with acting_as(conn, role, user):
            cur = conn.execute(statement, params)
            return ("rows", cur.rowcount if cur.description is None else len(cur.fetchall()))
    except (
        psycopg.errors.InsufficientPrivilege,  # no grant, or a row-level security check
        psycopg.errors.ObjectNotInPrerequisiteState,  # the view is not writable at all
    ):
        return ("denied",)


def _visible(conn, role, user, table, owners):
    """(rows of A visible, rows of B visible) for `role`, or ('denied',)."""
    try:
        with acting_as(conn, role, user):
            rows = conn.execute(f"select {_owner_of(table)} from public.{table} t").fetchall()
    except psycopg.errors.InsufficientPrivilege:
        return ("denied",)
    # owner lookups run as the actor too; count by the ids we know
    seen = [sum(1 for (owner,) in rows if owner == owners[name]) for name in ("A", "B")]
    return (*seen, len(rows))


EXPECTED_SELECT = {
    # actor: table -> (A's rows seen, B's rows seen, total) or ("denied",)
    "A": {
        **{t: (1, 0, 1) for t in TABLES if t not in ("ssml_jobs", "audio_jobs")},
        "ssml_jobs": ("denied",),
        "audio_jobs": ("denied",),
    },
    "B": {
        **{t: (0, 1, 1) for t in TABLES if t not in ("ssml_jobs", "audio_jobs")},
        "ssml_jobs": ("denied",),
        "audio_jobs": ("denied",),
    },
    "anon": {t: ("denied",) for t in TABLES},
    "service_role": {t: (1, 1, 2) for t in TABLES},
}
ACTORS = {
    "A": "authenticated",
    "B": "authenticated",
    "anon": "anon",
    "service_role": "service_role",
}


@pytest.mark.parametrize("actor", list(ACTORS))
def test_select_matrix(conn, world, actor):
    owners = {name: world[name]["user"] for name in ("A", "B")}
    user = world[actor]["user"] if actor in ("A", "B") else None
    seen = {t: _visible(conn, ACTORS[actor], user, t, owners) for t in TABLES}
    assert seen == EXPECTED_SELECT[actor]


def test_signed_in_user_without_rows_sees_nothing(conn, world):
    stranger = create_user(conn)
    for table in TABLES:
        result = _try(conn, "authenticated", stranger, f"select * from public.{table}")
        assert result in (("rows", 0), ("denied",)), table


def test_owner_writes_its_video_only(conn, world):
    a, b = world["A"], world["B"]
    insert = (
        "insert into video_recordings (user_id, filename, storage_path, format)"
        " values (%s, 'n.mp4', 'x/n.mp4', 'mp4')"
    )
    assert _try(conn, "authenticated", a["user"], insert, (a["user"],)) == ("rows", 1)
    assert _try(conn, "authenticated", a["user"], insert, (b["user"],)) == ("denied",)
    assert _try(conn, "anon", None, insert, (a["user"],)) == ("denied",)
    update = "update video_recordings set filename = 'z.mp4' where id = %s"
    assert _try(conn, "authenticated", a["user"], update, (a["video"],)) == ("rows", 1)
    assert _try(conn, "authenticated", a["user"], update, (b["video"],)) == ("rows", 0)
    move = "update video_recordings set user_id = %s where id = %s"
    assert _try(conn, "authenticated", a["user"], move, (b["user"], a["video"])) == ("denied",)
    delete = "delete from video_recordings where id = %s"
    assert _try(conn, "authenticated", a["user"], delete, (b["video"],)) == ("rows", 0)
    assert conn.execute("select count(*) from video_recordings").fetchone() == (3,)


WRITES = {
    "analysis_jobs": "update analysis_jobs set progress_percentage = 50",
    "analysis_feedback": "update analysis_feedback set message = 'hacked'",
    "analysis_ssml_segments": "delete from analysis_ssml_segments",
    "analysis_audio_segments": "update analysis_audio_segments set audio_url = 'evil'",
    "ssml_jobs": "update ssml_jobs set status = 'completed'",
    "audio_jobs": "delete from audio_jobs",
    "feedback_items_with_audio": "delete from feedback_items_with_audio",
}


@pytest.mark.parametrize("table", list(WRITES))
@pytest.mark.parametrize("actor", ["A", "anon"])
def test_no_writes_outside_videos(conn, world, table, actor):
    user = world["A"]["user"] if actor == "A" else None
    assert _try(conn, ACTORS[actor], user, WRITES[table]) == ("denied",)
    job_insert = "insert into analysis_jobs (user_id, video_recording_id) values (%s, %s)"
    assert _try(conn, ACTORS[actor], user, job_insert, (world["A"]["user"], 1)) == ("denied",)


@pytest.mark.parametrize("table", list(WRITES))
def test_service_role_writes_everything_but_the_view(conn, world, table):
    expected = ("denied",) if table == "feedback_items_with_audio" else ("rows", 2)
    assert _try(conn, "service_role", None, WRITES[table]) == expected


def test_service_role_uses_sequences(conn, world):
    with acting_as(conn, "service_role", None):
        conn.execute(
            "insert into analysis_feedback (analysis_job_id, item_index, timestamp_seconds,"
            " category, message) values (%s, 5, 1, 'c', 'Hi.')",
            (world["A"]["job"],),
        )


def test_storage_objects_policies(conn, world):
    a, b = world["A"]["user"], world["B"]["user"]
    put = "insert into storage.objects (bucket_id, name) values (%s, %s)"
    assert _try(conn, "authenticated", a, put, ("raw", f"{a}/new.mp4")) == ("rows", 1)
    assert _try(conn, "authenticated", a, put, ("raw", f"{b}/new.mp4")) == ("denied",)
    assert _try(conn, "authenticated", a, put, ("processed", f"{a}/x.wav")) == ("denied",)
    assert _try(conn, "anon", None, put, ("raw", f"{a}/anon.mp4")) == ("denied",)
    read = "select name from storage.objects where bucket_id = %s"
    assert _try(conn, "authenticated", a, read, ("raw",)) == ("rows", 2)
    assert _try(conn, "authenticated", a, read, ("processed",)) == ("rows", 1)
    assert _try(conn, "anon", None, read, ("processed",)) == ("rows", 0)
    delete = "delete from storage.objects where bucket_id = 'processed'"
    assert _try(conn, "authenticated", a, delete) == ("rows", 0)
    assert _try(conn, "service_role", None, read, ("processed",)) == ("rows", 2)


def test_view_shows_audio_only_when_both_statuses_completed(conn, world):
    a = world["A"]
    query = "select audio_ready, audio_segments from feedback_items_with_audio"
    with acting_as(conn, "authenticated", a["user"]):
        assert conn.execute(query).fetchall() == [(False, [])]
    conn.execute(
        "update analysis_feedback set ssml_status = 'completed' where id = %s", (a["feedback"],)
    )
    with acting_as(conn, "authenticated", a["user"]):
        assert conn.execute(query).fetchall() == [(False, [])]
    conn.execute(
        "update analysis_feedback set audio_status = 'completed' where id = %s", (a["feedback"],)
    )
    with acting_as(conn, "authenticated", a["user"]):
        [(ready, segments)] = conn.execute(query).fetchall()
    assert ready is True
    assert segments == [
        {
            "segment_index": 0,
            "audio_url": f"{a['user']}/{a['job']}/{a['feedback']}/1/0.wav",
            "format": "wav",
            "duration_ms": None,
        }
    ]


def test_cuecast_functions_are_not_callable_by_app_roles(conn, world):
    fid = world["A"]["feedback"]
    for role, user in (("authenticated", world["A"]["user"]), ("anon", None)):
        for call in ("cuecast.enqueue_ssml(%s)", "cuecast.enqueue_audio(%s)"):
            assert _try(conn, role, user, f"select {call}", (fid,)) == ("denied",)
        assert _try(conn, role, user, "select cuecast.ensure_analysis_job(1)") == ("denied",)


def test_ownership_helpers_answer_only_for_the_caller(conn, world):
    a, b = world["A"], world["B"]
    with acting_as(conn, "authenticated", a["user"]):
        assert conn.execute(
            "select cuecast.owns_analysis_job(%s), cuecast.owns_analysis_job(%s),"
            " cuecast.owns_feedback(%s), cuecast.owns_feedback(%s)",
            (a["job"], b["job"], a["feedback"], b["feedback"]),
        ).fetchone() == (True, False, True, False)
    with acting_as(conn, "authenticated", uuid.uuid4()):
        assert conn.execute("select cuecast.owns_analysis_job(%s)", (a["job"],)).fetchone() == (
            False,
        )
