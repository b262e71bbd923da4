"""`cuecast backfill` on the adopted database: the dry run counts the items and the provider
calls and changes nothing; a run queues them in bounded batches, one batch in flight, and
with the local publisher the work is done right there."""

from __future__ import annotations

import io

import psycopg
import pytest

from shared.cli import main

# tests/preplan: 102 and 311 have no SSML (one segment each by the builder), 104 has SSML
# but no audio; 103 is blank and everything else completed.
HISTORIC = [102, 104, 311]


@pytest.fixture
def cuecast(monkeypatch, adopted_db, tmp_path):
    monkeypatch.setenv("DATABASE_URL", adopted_db)
    monkeypatch.setenv("CUECAST_STORAGE_DIR", str(tmp_path))

    def run(*args: str) -> str:
        out = io.StringIO()
        assert main(list(args), out=out) == 0
        return out.getvalue()

    return run


def _statuses(url: str) -> dict[int, tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select id, ssml_status, audio_status from analysis_feedback")
        return {fid: (s, a) for fid, s, a in rows}


def _cells(out: str) -> list[list[str]]:
    rows = [line.split("│")[1:4] for line in out.splitlines() if line.count("│") >= 4]
    return [[c.strip() for c in row] for row in rows]


def test_dry_run_counts_the_provider_calls_and_changes_nothing(cuecast, adopted_db):
    before = _statuses(adopted_db)
    cells = _cells(cuecast("backfill", "--dry-run"))
    assert ["2", "SSML, then audio", "2 to the SSML builder (no API)"] in cells
    assert ["1", "audio", ""] in cells
    assert ["3", "in all", "3 to eSpeak NG (local)"] in cells
    assert _statuses(adopted_db) == before
    with psycopg.connect(adopted_db) as conn:
        assert conn.execute("select count(*) from ssml_jobs").fetchone() == (0,)


def test_a_run_queues_batch_after_batch_and_the_work_is_done(cuecast, adopted_db):
    out = cuecast("backfill", "--batch-size", "2")
    assert "queued 2 item(s) for SSML and audio and 1 for audio, in 2 batch(es)" in out
    after = _statuses(adopted_db)
    assert {fid: after[fid] for fid in HISTORIC} == dict.fromkeys(
        HISTORIC, ("completed", "completed")
    )
    assert after[103] == ("skipped", "skipped")
    with psycopg.connect(adopted_db) as conn:
        ssml = conn.execute("select feedback_id from ssml_jobs order by 1").fetchall()
        audio = conn.execute("select feedback_id from audio_jobs order by 1").fetchall()
    assert ssml == [(102,), (311,)]
    assert audio == [(102,), (104,), (311,)]
    assert ["0", "in all", "0 to eSpeak NG (local)"] in _cells(cuecast("backfill", "--dry-run"))
    assert "queued 0 item(s)" in cuecast("backfill")


def test_a_limit_and_one_job(cuecast, adopted_db):
    out = cuecast("backfill", "--job", "31", "--limit", "5")
    assert "queued 1 item(s) for SSML and audio and 0 for audio, in 1 batch(es)" in out
    after = _statuses(adopted_db)
    assert after[311] == ("completed", "completed")
    assert after[102] == ("unrequested", "unrequested")
