"""`cuecast replay`: by id, by status with --requeue, and --dry-run, through the real
command; with the local publisher the doorbells are delivered right there."""

from __future__ import annotations

import io

import pytest

from shared.cli import main
from tests.db.helpers import add_feedback, analysis_job


@pytest.fixture
def cuecast(monkeypatch, db_url, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CUECAST_STORAGE_DIR", str(tmp_path))

    def run(*args: str) -> str:
        out = io.StringIO()
        assert main(list(args), out=out) == 0
        return out.getvalue()

    return run


def _fail(conn, table: str, feedback_id: int, error: str = "boom") -> None:
    conn.execute(
        f"update {table} set status = 'failed', attempts = 5, last_error = %s"
        " where feedback_id = %s",
        (error, feedback_id),
    )


def test_dry_run_lists_and_publishes_nothing(conn, cuecast):
    _, _, job_id = analysis_job(conn)
    fids = [add_feedback(conn, job_id, i, f"item {i}") for i in range(3)]
    _fail(conn, "ssml_jobs", fids[1])
    before = conn.execute("select * from ssml_jobs order by id").fetchall()
    out = cuecast("replay", "--stage", "ssml", "--status", "failed", "--requeue", "--dry-run")
    assert f"ssml: {fids[1]}(failed)" in out
    assert "would publish 1 message(s)" in out
    assert conn.execute("select * from ssml_jobs order by id").fetchall() == before


def test_by_id_publishes_one_doorbell_and_runs_it(conn, cuecast):
    _, _, job_id = analysis_job(conn)
    fids = [add_feedback(conn, job_id, i, f"item {i}") for i in range(3)]
    out = cuecast("replay", "--stage", "ssml", "--id", str(fids[0]))
    assert "published 1 message(s)" in out
    assert "delivered locally" in out
    rows = conn.execute(
        "select id, ssml_status from analysis_feedback order by item_index"
    ).fetchall()
    assert rows[0] == (fids[0], "completed")
    assert [s for _, s in rows[1:]] == ["queued", "queued"]  # nobody rang their bells


def test_by_status_with_requeue_runs_failed_jobs_again(conn, cuecast):
    _, _, job_id = analysis_job(conn)
    fids = [add_feedback(conn, job_id, i, f"item {i}") for i in range(3)]
    conn.execute("update ssml_jobs set status = 'completed'")
    conn.execute("update analysis_feedback set ssml_status = 'completed'")
    for fid in fids[:2]:
        _fail(conn, "ssml_jobs", fid, "TTS quota")
    out = cuecast("replay", "--stage", "ssml", "--status", "failed", "--requeue")
    assert "ssml: re-queued 2 failed job(s)" in out
    assert "published 2 message(s)" in out
    jobs = conn.execute(
        "select feedback_id, status, attempts, last_error from ssml_jobs order by feedback_id"
    ).fetchall()
    assert jobs[:2] == [(fids[0], "completed", 1, None), (fids[1], "completed", 1, None)]
    assert jobs[2] == (fids[2], "completed", 0, None)  # not failed: left alone


def test_without_requeue_a_failed_job_is_acknowledged_and_stays_failed(conn, cuecast):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "item")
    _fail(conn, "ssml_jobs", fid)
    out = cuecast("replay", "--stage", "ssml", "--status", "failed")
    assert "published 1 message(s)" in out
    assert conn.execute("select status, attempts from ssml_jobs").fetchone() == ("failed", 5)


def test_a_replay_must_choose(conn, monkeypatch, db_url, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["replay", "--stage", "ssml"], out=io.StringIO()) == 1
    assert "choose jobs by --id, --status or --older-than" in capsys.readouterr().err
    assert main(["replay", "--id", "1"], out=io.StringIO()) == 1
    assert "give one --stage" in capsys.readouterr().err


def test_by_age_takes_only_jobs_unchanged_for_longer(conn, cuecast):
    _, _, job_id = analysis_job(conn)
    old, new = (add_feedback(conn, job_id, i, f"item {i}") for i in range(2))
    with conn.transaction():  # no triggers: the touch trigger would reset updated_at
        conn.execute("set local session_replication_role = replica")
        conn.execute(
            "update ssml_jobs set updated_at = now() - interval '2 hours' where feedback_id = %s",
            (old,),
        )
    out = cuecast("replay", "--stage", "ssml", "--older-than", "90m", "--dry-run")
    assert f"ssml: {old}(queued)" in out
    assert str(new) + "(" not in out
    assert "would publish 1 message(s)" in out


def test_force_runs_a_completed_item_again(conn, cuecast, tmp_path):
    """After a voice change, say: `--force` re-queues completed jobs (a new generation) and
    runs them; the SSML's new generation brings new audio, whose objects replace the old."""
    user, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your chin up.")
    cuecast("replay", "--stage", "ssml", "--id", str(fid))
    assert conn.execute("select generation from audio_jobs").fetchone() == (1,)
    plain = cuecast("replay", "--stage", "ssml", "--id", str(fid))  # plain: nothing to do
    assert conn.execute("select generation from ssml_jobs").fetchone() == (1,)
    assert "published 1 message(s)" in plain
    cuecast("replay", "--stage", "ssml", "--id", str(fid), "--force")
    assert conn.execute("select status, generation from ssml_jobs").fetchone() == ("completed", 2)
    assert conn.execute("select status, generation from audio_jobs").fetchone() == ("completed", 2)
    urls = [u for (u,) in conn.execute("select audio_url from analysis_audio_segments")]
    assert urls == [f"{user}/{job_id}/{fid}/2/0.wav"]
    kept = sorted(
        str(p.relative_to(tmp_path / "processed")) for p in (tmp_path / "processed").rglob("*.*")
    )
    assert kept == urls
