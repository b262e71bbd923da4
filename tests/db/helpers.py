"""Small builders for database tests: a user, a video, a job, feedback rows."""

from __future__ import annotations

import uuid

import psycopg

from tests.supa import complete_upload, create_user, insert_video

Conn = psycopg.Connection[tuple[object, ...]]


def analysis_job(conn: Conn, user: uuid.UUID | None = None) -> tuple[uuid.UUID, int, int]:
    """A user with a completed upload: (user id, video id, analysis job id)."""
    user = user or create_user(conn)
    video = insert_video(conn, user, name=f"{uuid.uuid4().hex[:6]}.mp4")
    complete_upload(conn, user, video)
    row = conn.execute(
        "select id from analysis_jobs where video_recording_id = %s", (video,)
    ).fetchone()
    assert row is not None
    return user, video, int(row[0])  # type: ignore[call-overload]


def add_feedback(conn: Conn, job_id: int, index: int, message: str | None) -> int:
    row = conn.execute(
        "insert into analysis_feedback"
        " (analysis_job_id, item_index, timestamp_seconds, category, message, confidence, impact)"
        " values (%s, %s, %s, 'pacing', %s, 0.8, 0.5) returning id",
        (job_id, index, float(index), message),
    ).fetchone()
    assert row is not None
    return int(row[0])  # type: ignore[call-overload]


def statuses(conn: Conn, feedback_id: int) -> tuple[object, ...]:
    row = conn.execute(
        "select ssml_status, audio_status from analysis_feedback where id = %s", (feedback_id,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def job(conn: Conn, table: str, feedback_id: int) -> tuple[object, ...] | None:
    return conn.execute(
        psycopg.sql.SQL(
            "select status, attempts, last_error, generation from {} where feedback_id = %s"
        ).format(psycopg.sql.Identifier(table)),
        (feedback_id,),
    ).fetchone()


def bus_moved_past(conn: Conn) -> None:
    """A reconciler probe on every stage topic, sent now and delivered: for the reconciler,
    any doorbell older than half a second that has not come through is lost."""
    conn.execute(
        "insert into cuecast.doorbell_probes (stage, delivered_at)"
        " select s, now() from unnest(array['start-analysis', 'ssml', 'audio']) as s"
    )
