"""Feedback rows enqueue their SSML (and later audio) work through the triggers."""

from __future__ import annotations

import pytest

from shared import queue
from shared.db import jobs
from shared.domain import Stage
from tests.db.helpers import add_feedback, analysis_job, job, statuses
from tests.supa import set_webhook_secrets

POLICY = queue.QueuePolicy()


def test_non_blank_message_enqueues_exactly_one_ssml_job(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    assert job(conn, "ssml_jobs", fid) == ("queued", 0, None, 1)
    assert statuses(conn, fid) == ("queued", "pending")
    assert conn.execute("select count(*) from ssml_jobs").fetchone() == (1,)
    assert job(conn, "audio_jobs", fid) is None


@pytest.mark.parametrize("message", [None, "", "   ", "\t\n "])
def test_blank_message_enqueues_nothing_and_is_skipped(conn, message):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, message)
    assert job(conn, "ssml_jobs", fid) is None
    assert statuses(conn, fid) == ("skipped", "skipped")


def _finish_both(conn, fid):
    """Run the item through both stages' queue transitions (no providers needed)."""
    with conn.transaction():
        claim = jobs.claim_job(conn, Stage.SSML, fid, POLICY)
        assert claim is not None
        assert jobs.finish_job(conn, claim)
        conn.execute("select cuecast.enqueue_audio(%s)", (fid,))
    with conn.transaction():
        claim = jobs.claim_job(conn, Stage.AUDIO, fid, POLICY)
        assert claim is not None
        assert jobs.finish_job(conn, claim)


def test_changed_message_requeues_both_jobs(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_both(conn, fid)
    conn.execute("update ssml_jobs set last_error = 'old', attempts = 2")
    assert statuses(conn, fid) == ("completed", "completed")

    conn.execute("update analysis_feedback set message = 'Elbows in.' where id = %s", (fid,))
    assert job(conn, "ssml_jobs", fid) == ("queued", 0, None, 2)
    assert job(conn, "audio_jobs", fid) == ("queued", 0, None, 2)
    assert statuses(conn, fid) == ("queued", "queued")


def test_audio_waits_for_the_new_ssml(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_both(conn, fid)
    conn.execute("update analysis_feedback set message = 'Elbows in.' where id = %s", (fid,))
    with conn.transaction():
        assert jobs.claim_job(conn, Stage.AUDIO, fid, POLICY) is None


@pytest.mark.parametrize(
    "change",
    [
        "set message = message",
        "set category = 'volume'",
        "set confidence = 0.1",
        "set timestamp_seconds = 4",
    ],
)
def test_same_text_or_other_columns_change_nothing(conn, change):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_both(conn, fid)
    before = (job(conn, "ssml_jobs", fid), job(conn, "audio_jobs", fid), statuses(conn, fid))
    conn.execute(f"update analysis_feedback {change} where id = %s", (fid,))
    after = (job(conn, "ssml_jobs", fid), job(conn, "audio_jobs", fid), statuses(conn, fid))
    assert after == before


def test_finish_for_an_older_generation_does_not_overwrite_the_requeue(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    with conn.transaction():
        stale = jobs.claim_job(conn, Stage.SSML, fid, POLICY)
    assert stale is not None
    assert statuses(conn, fid) == ("processing", "pending")
    conn.execute("update analysis_feedback set message = 'New words.' where id = %s", (fid,))
    with conn.transaction():
        assert not jobs.finish_job(conn, stale)
        assert not jobs.fail_job(conn, stale, "late")
    assert job(conn, "ssml_jobs", fid) == ("queued", 0, None, 2)
    assert statuses(conn, fid) == ("queued", "pending")


def test_message_made_blank_withdraws_the_jobs(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_both(conn, fid)
    conn.execute("update analysis_feedback set message = '  ' where id = %s", (fid,))
    assert statuses(conn, fid) == ("skipped", "skipped")
    assert job(conn, "ssml_jobs", fid) is None
    assert job(conn, "audio_jobs", fid) is None
    conn.execute("update analysis_feedback set message = 'Back again.' where id = %s", (fid,))
    assert statuses(conn, fid) == ("queued", "pending")
    assert job(conn, "ssml_jobs", fid) == ("queued", 0, None, 1)


def test_failed_ssml_fails_the_items_audio(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_both(conn, fid)
    conn.execute("update analysis_feedback set message = 'Changed.' where id = %s", (fid,))
    with conn.transaction():
        claim = jobs.claim_job(conn, Stage.SSML, fid, POLICY)
        assert claim is not None
        assert jobs.fail_job(conn, claim, "PermanentError: nope")
    assert statuses(conn, fid) == ("failed", "failed")
    status, _, error, _ = job(conn, "audio_jobs", fid)
    assert status == "failed"
    assert "SSML failed" in error


def test_analysis_progress_follows_status(conn):
    _, _, job_id = analysis_job(conn)
    with conn.transaction():
        claim = jobs.claim_job(conn, Stage.ANALYSIS, job_id, POLICY)
    assert claim is not None
    row = conn.execute(
        "select status, progress_percentage, processing_started_at is not null, attempts"
        " from analysis_jobs where id = %s",
        (job_id,),
    ).fetchone()
    assert row == ("processing", 10, True, 1)
    with conn.transaction():
        assert jobs.finish_job(conn, claim)
    row = conn.execute(
        "select status, progress_percentage, processing_completed_at is not null"
        " from analysis_jobs where id = %s",
        (job_id,),
    ).fetchone()
    assert row == ("completed", 100, True)


def _webhook_calls(conn) -> list[dict]:
    rows = conn.execute("select body from net.http_request_queue order by id").fetchall()
    return [body for (body,) in rows]


def _finish_ssml(conn, fid) -> None:
    """The ssml stage's claim and real finish (which enqueues the item's audio)."""
    with conn.transaction():
        claim = jobs.claim_job(conn, Stage.SSML, fid, POLICY)
        assert claim is not None
        conn.execute(
            "select cuecast.finish_ssml(%s, %s, %s, 'builder', '1', %s, %s)",
            (claim.job_id, claim.generation, claim.attempts, [0], ["<speak>New.</speak>"]),
        )


def test_an_edit_rings_its_ssml_doorbell_in_the_same_transaction(conn):
    set_webhook_secrets(conn, "https://functions.example.test/webhook", "s3cret-for-the-test")
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    assert _webhook_calls(conn)[-1]["table"] == "analysis_jobs"  # the upload's, not the item's
    before = len(_webhook_calls(conn))
    _finish_both(conn, fid)
    with pytest.raises(RuntimeError), conn.transaction():  # an edit rolled back rings nothing
        conn.execute("update analysis_feedback set message = 'Undone.' where id = %s", (fid,))
        raise RuntimeError
    assert len(_webhook_calls(conn)) == before

    conn.execute("update analysis_feedback set message = 'Elbows in.' where id = %s", (fid,))
    [call] = _webhook_calls(conn)[before:]
    assert (call["type"], call["schema"], call["table"]) == ("UPDATE", "public", "ssml_jobs")
    assert call["record"]["feedback_id"] == fid
    assert (call["record"]["status"], call["record"]["generation"]) == ("queued", 2)

    conn.execute("update analysis_feedback set message = ' ' where id = %s", (fid,))
    assert len(_webhook_calls(conn)) == before + 1  # withdrawn: nothing to ring
    conn.execute("update analysis_feedback set message = 'Back.' where id = %s", (fid,))
    assert _webhook_calls(conn)[-1]["record"]["feedback_id"] == fid


def test_without_the_webhook_secrets_an_edit_still_requeues(conn):
    set_webhook_secrets(conn, None, None)
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_both(conn, fid)
    conn.execute("update analysis_feedback set message = 'Elbows in.' where id = %s", (fid,))
    assert job(conn, "ssml_jobs", fid) == ("queued", 0, None, 2)
    assert _webhook_calls(conn) == []  # the reconciler will ring it


def test_one_audio_generation_per_edit(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_both(conn, fid)
    assert job(conn, "audio_jobs", fid)[3] == 1
    for edit, text in enumerate(("Elbows in.", "Elbows in, please.", "Tuck the elbows."), 2):
        conn.execute("update analysis_feedback set message = %s where id = %s", (text, fid))
        _finish_ssml(conn, fid)
        assert job(conn, "audio_jobs", fid) == ("queued", 0, None, edit)
        assert job(conn, "ssml_jobs", fid)[3] == edit
        with conn.transaction():
            claim = jobs.claim_job(conn, Stage.AUDIO, fid, POLICY)
            assert claim is not None and claim.generation == edit
            assert jobs.finish_job(conn, claim)
