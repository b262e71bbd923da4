"""Upload completion → analysis job → webhook call, as the app's own `authenticated` writes."""

from __future__ import annotations

import secrets

import psycopg
import pytest

from tests.supa import complete_upload, create_user, insert_video, set_webhook_secrets

URL = "https://functions.example.test/webhook"


@pytest.fixture
def secret(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    value = secrets.token_hex(16)
    set_webhook_secrets(conn, URL, value)
    return value


def _jobs(conn: psycopg.Connection[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return conn.execute(
        "select video_recording_id, status, progress_percentage from analysis_jobs order by id"
    ).fetchall()


def _calls(conn: psycopg.Connection[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return conn.execute(
        "select method, url, headers, body from net.http_request_queue order by id"
    ).fetchall()


def test_completion_creates_one_job_and_one_webhook_call(conn, secret):
    user = create_user(conn)
    video = insert_video(conn, user)
    assert _jobs(conn) == []
    complete_upload(conn, user, video)

    assert _jobs(conn) == [(video, "queued", 0)]
    [(method, url, headers, body)] = _calls(conn)
    assert (method, url) == ("POST", URL)
    assert headers == {"Content-Type": "application/json", "X-Webhook-Secret": secret}
    assert body["type"] == "INSERT"
    assert (body["schema"], body["table"]) == ("public", "analysis_jobs")
    assert body["record"]["video_recording_id"] == video
    assert body["record"]["status"] == "queued"
    assert body["old_record"] is None


def test_insert_already_completed_starts_analysis(conn, secret):
    user = create_user(conn)
    video = insert_video(conn, user, upload_status="completed")
    assert _jobs(conn) == [(video, "queued", 0)]
    assert len(_calls(conn)) == 1


def test_repeats_and_other_updates_create_nothing(conn, secret):
    user = create_user(conn)
    video = insert_video(conn, user)
    complete_upload(conn, user, video)
    complete_upload(conn, user, video)  # completed → completed
    conn.execute("update video_recordings set filename = 'renamed.mp4' where id = %s", (video,))
    conn.execute("update video_recordings set file_size = 5 where id = %s", (video,))
    assert len(_jobs(conn)) == 1
    assert len(_calls(conn)) == 1


def test_uploading_does_not_start(conn, secret):
    user = create_user(conn)
    video = insert_video(conn, user)
    conn.execute("update video_recordings set upload_status = 'uploading' where id = %s", (video,))
    assert _jobs(conn) == []
    assert _calls(conn) == []


def test_failed_job_is_requeued_by_a_new_completion(conn, secret):
    user = create_user(conn)
    video = insert_video(conn, user)
    complete_upload(conn, user, video)
    conn.execute("update analysis_jobs set status = 'failed', attempts = 3, error_message = 'boom'")
    conn.execute("update video_recordings set upload_status = 'uploading' where id = %s", (video,))
    complete_upload(conn, user, video)

    row = conn.execute(
        "select status, attempts, error_message, generation from analysis_jobs"
    ).fetchone()
    assert row == ("queued", 0, None, 2)
    calls = _calls(conn)
    assert len(calls) == 2
    assert calls[1][3]["type"] == "UPDATE"
    assert calls[1][3]["old_record"]["status"] == "failed"


@pytest.mark.parametrize("status", ["queued", "processing", "completed"])
def test_live_or_finished_job_is_left_alone(conn, secret, status):
    user = create_user(conn)
    video = insert_video(conn, user)
    complete_upload(conn, user, video)
    lease = "now() + interval '5 minutes'" if status == "processing" else "null"
    conn.execute(
        f"update analysis_jobs set status = '{status}', attempts = 1, lease_expires_at = {lease}"
    )
    before = conn.execute("select status, attempts, generation from analysis_jobs").fetchone()
    conn.execute("update video_recordings set upload_status = 'uploading' where id = %s", (video,))
    complete_upload(conn, user, video)
    assert conn.execute("select status, attempts, generation from analysis_jobs").fetchone() == (
        before
    )
    assert len(_calls(conn)) == 1


@pytest.mark.parametrize(
    ("url", "secret_value"), [(None, "s"), (URL, None), ("", "s"), (URL, "  "), (None, None)]
)
def test_no_vault_secret_means_no_call_but_job_still_queued(conn, url, secret_value):
    set_webhook_secrets(conn, url, secret_value)
    user = create_user(conn)
    video = insert_video(conn, user)
    complete_upload(conn, user, video)
    assert _jobs(conn) == [(video, "queued", 0)]
    assert _calls(conn) == []


def test_no_pg_net_means_no_call(conn, secret):
    conn.execute("drop function net.http_post(text, jsonb, jsonb, jsonb, integer)")
    user = create_user(conn)
    video = insert_video(conn, user)
    complete_upload(conn, user, video)
    assert _jobs(conn) == [(video, "queued", 0)]


def test_retry_back_to_queued_rings_no_webhook(conn, secret):
    user = create_user(conn)
    video = insert_video(conn, user)
    complete_upload(conn, user, video)
    conn.execute(
        "update analysis_jobs set status = 'processing', lease_expires_at = now() + interval '1m'"
    )
    conn.execute("update analysis_jobs set status = 'queued', lease_expires_at = null")
    assert len(_calls(conn)) == 1
