"""The stage functions (migrations/20251201000001): claim-with-context and finish-with-writes
in one statement each, the claim's commit without a WAL flush, and the pool's idle check."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from shared.adapters.local_storage import LocalStorage
from shared.db import Database, jobs
from shared.domain import Stage
from shared.pool import IdleCheck, make_pool
from shared.queries import raw
from shared.queue import Claim, QueuePolicy
from shared.services.audio import AudioStage
from shared.services.runner import Outcome, run
from shared.settings import Settings
from tests.chaos.faults import ToneSynthesizer
from tests.db.helpers import add_feedback, analysis_job, job, statuses

POLICY = QueuePolicy()
PARAMS = {"lease_seconds": 300, "max_attempts": 5}


def _ssml_claim(conn, fid):
    return conn.execute(raw("claim_ssml"), {"key": fid, **PARAMS}).fetchone()


def _finish_ssml(conn, row, ssml):
    return conn.execute(
        raw("finish_ssml"),
        {
            "id": row[0],
            "generation": row[2],
            "attempts": row[3],
            "provider": "test",
            "version": "1",
            "indexes": list(range(len(ssml))),
            "ssml": ssml,
        },
    ).fetchone()[0]


def test_the_claim_commits_without_a_wal_flush_and_the_finish_with_one(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    with conn.transaction():
        claim = jobs.claim_job(conn, Stage.SSML, fid, POLICY)
        assert claim is not None
        assert conn.execute("show synchronous_commit").fetchone() == ("off",)
    with conn.transaction():
        assert jobs.finish_job(conn, claim)
        assert conn.execute("show synchronous_commit").fetchone() == ("on",)
    assert conn.execute("show synchronous_commit").fetchone() == ("on",)  # nothing lingers


def test_the_ssml_finish_commits_without_a_wal_flush_and_the_audio_finish_with_one(conn):
    """The SSML finish is the pipeline's own intermediate state; the audio finish after it
    flushes it with its own (migration 20251205000001)."""
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    row = _ssml_claim(conn, fid)
    with conn.transaction():
        assert _finish_ssml(conn, row, ["<speak>a</speak>"]) is True
        assert conn.execute("show synchronous_commit").fetchone() == ("off",)
    audio = conn.execute(raw("claim_audio"), {"key": fid, **PARAMS}).fetchone()
    with conn.transaction():
        claim = Claim(Stage.AUDIO, audio[0], audio[1], audio[2], audio[3])
        assert jobs.finish_job(conn, claim)
        assert conn.execute("show synchronous_commit").fetchone() == ("on",)


def _feedback_writes(conn) -> int:
    row = conn.execute(
        "select n_tup_upd from pg_stat_xact_user_tables where relname = 'analysis_feedback'"
    ).fetchone()
    return int(row[0])


def test_an_ssml_finish_writes_the_items_row_once(conn):
    """SSML completed and audio queued, in one row version (migration 20251205000001)."""
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    row = _ssml_claim(conn, fid)
    assert statuses(conn, fid) == ("processing", "pending")
    with conn.transaction():
        before = _feedback_writes(conn)
        assert _finish_ssml(conn, row, ["<speak>a</speak>"]) is True
        assert _feedback_writes(conn) - before == 1
    assert statuses(conn, fid) == ("completed", "queued")
    assert job(conn, "audio_jobs", fid)[0] == "queued"


def test_ssml_claim_returns_the_item_and_its_finish_writes_everything_at_once(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    row = _ssml_claim(conn, fid)
    assert row[1:5] == (fid, 1, 1, "Keep your elbows in.")
    assert row[5] == "pacing"
    assert statuses(conn, fid) == ("processing", "pending")
    assert _finish_ssml(conn, row, ["<speak>a</speak>", "<speak>b</speak>"]) is True
    assert statuses(conn, fid) == ("completed", "queued")
    assert job(conn, "audio_jobs", fid) == ("queued", 0, None, 1)
    segments = conn.execute(
        "select segment_index, ssml from analysis_ssml_segments where feedback_id = %s"
        " order by segment_index",
        (fid,),
    ).fetchall()
    assert segments == [(0, "<speak>a</speak>"), (1, "<speak>b</speak>")]
    assert _ssml_claim(conn, fid) is None  # completed: nothing to claim


def test_a_superseded_finish_writes_nothing(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    row = _ssml_claim(conn, fid)
    conn.execute("update analysis_feedback set message = 'Elbows in.' where id = %s", (fid,))
    assert _finish_ssml(conn, row, ["<speak>old</speak>"]) is False
    assert job(conn, "ssml_jobs", fid) == ("queued", 0, None, 2)
    assert job(conn, "audio_jobs", fid) is None
    assert conn.execute("select count(*) from analysis_ssml_segments").fetchone() == (0,)


def test_a_shorter_rerun_trims_the_segments_it_no_longer_has(conn):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_ssml(conn, _ssml_claim(conn, fid), ["<speak>a</speak>", "<speak>b</speak>"])
    conn.execute("select cuecast.enqueue_ssml(%s)", (fid,))
    _finish_ssml(conn, _ssml_claim(conn, fid), ["<speak>c</speak>"])
    rows = conn.execute(
        "select segment_index, ssml from analysis_ssml_segments where feedback_id = %s", (fid,)
    ).fetchall()
    assert rows == [(0, "<speak>c</speak>")]


def test_an_audio_job_whose_item_has_no_segments_fails_with_the_reason(conn, db_url, tmp_path):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your elbows in.")
    _finish_ssml(conn, _ssml_claim(conn, fid), [])  # nothing written, yet completed
    settings = Settings(DATABASE_URL=db_url)
    pool = make_pool(db_url, max_size=1)
    try:
        stage = AudioStage(
            storage=LocalStorage(Path(tmp_path)),
            synthesizer=ToneSynthesizer(),
            default_voice=settings.voice(),
        )
        assert run(Database(pool), stage, fid, POLICY) is Outcome.FAILED
    finally:
        pool.close()
    assert job(conn, "audio_jobs", fid) == (
        "failed",
        1,
        f"PermanentError: feedback {fid} has no SSML segments",
        1,
    )
    assert statuses(conn, fid) == ("completed", "failed")


def _backend(pool) -> int:
    with pool.connection() as c:
        return int(c.execute("select pg_backend_pid()").fetchone()[0])


def _pool(db_url: str, check: IdleCheck):
    from psycopg_pool import ConnectionPool

    return ConnectionPool(db_url, min_size=1, max_size=1, check=check, open=True)


def test_the_pool_checks_a_connection_only_after_it_sat_idle(conn, db_url):
    check = IdleCheck(after_seconds=0.3)
    pool = _pool(db_url, check)
    try:
        first = _backend(pool)
        conn.execute("select pg_terminate_backend(%s)", (first,))
        # Returned a moment ago: lent unchecked, and the cut shows as the statement's error.
        with pytest.raises(psycopg.OperationalError):
            _backend(pool)
        second = _backend(pool)  # the pool replaced the broken connection
        assert second != first
        conn.execute("select pg_terminate_backend(%s)", (second,))
        time.sleep(0.4)
        # Idle past the window: checked, found cut, replaced before it is lent.
        third = _backend(pool)
        assert third not in (first, second)
    finally:
        pool.close()


def test_every_claim_tells_the_planner_it_returns_one_row(conn):
    # At the default guess of 1000 rows the planner joins the claimed row to whole tables:
    # 4.9 ms per ssml claim at 10 k finished items, 20.8 ms at 40 k (bench.scale).
    rows = conn.execute(
        "select p.proname, p.prorows from pg_proc as p"
        " where p.pronamespace = 'cuecast'::regnamespace and p.proname like 'claim\\_%'"
        " order by 1"
    ).fetchall()
    assert [name for name, _ in rows] == [
        "claim_analysis",  # start-analysis's claim with its context (20251202000002)
        "claim_analysis_jobs",
        "claim_audio",
        "claim_audio_jobs",
        "claim_ssml",
        "claim_ssml_jobs",
    ]
    assert all(estimate == 1 for _, estimate in rows), rows
