"""`cuecast replay` and `cuecast reconcile` with the production publisher: the same flags
publish through google-cloud-pubsub (at the in-process gRPC Publisher) and deliver nothing
locally."""

from __future__ import annotations

import io
import json

import pytest

from shared.cli import main
from tests.adapters.servers import FakePubSub
from tests.db.helpers import add_feedback, analysis_job, bus_moved_past


@pytest.fixture
def cuecast(monkeypatch, db_url, fake_pubsub: FakePubSub):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CUECAST_PUBLISHER", "pubsub")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "coach-prod")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", fake_pubsub.host)

    def run(*args: str) -> str:
        out = io.StringIO()
        assert main(list(args), out=out) == 0
        return out.getvalue()

    return run


def _sent(fake: FakePubSub) -> list[tuple[str, dict]]:
    return [(topic.rsplit("/", 1)[1], json.loads(data)) for topic, data, _ in fake.published]


def test_replay_requeues_and_publishes_to_the_real_topic(conn, cuecast, fake_pubsub):
    _, _, job_id = analysis_job(conn)
    fids = [add_feedback(conn, job_id, i, f"item {i}") for i in range(3)]
    conn.execute(
        "update ssml_jobs set status = 'failed', attempts = 5, last_error = 'quota'"
        " where feedback_id = any(%s)",
        (fids[:2],),
    )
    out = cuecast("replay", "--stage", "ssml", "--status", "failed", "--requeue")
    assert "published 2 message(s)" in out
    assert "delivered locally" not in out
    assert _sent(fake_pubsub) == [("cuecast-ssml", {"feedback_id": f}) for f in fids[:2]]
    rows = conn.execute(
        "select status, attempts from ssml_jobs where feedback_id = any(%s)", (fids[:2],)
    ).fetchall()
    assert rows == [("queued", 0), ("queued", 0)]


def test_reconcile_rings_lost_doorbells_on_the_real_topics(conn, cuecast, fake_pubsub):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "item")
    conn.execute(
        "update ssml_jobs set published_at = now() - interval '1 hour',"
        " due_at = now() - interval '1 hour'"
    )
    conn.execute(
        "update analysis_jobs set published_at = now() - interval '1 hour',"
        " due_at = now() - interval '1 hour'"
    )
    bus_moved_past(conn)
    out = cuecast("reconcile")
    assert "ssml: republished 1" in out
    sent = _sent(fake_pubsub)
    assert sorted(m for m in sent if "probe" not in m[1]) == [
        ("cuecast-ssml", {"feedback_id": fid}),
        ("cuecast-start-analysis", {"analysis_job_id": job_id}),
    ]
    probes = sorted(topic for topic, m in sent if "probe" in m)
    assert probes == ["cuecast-audio", "cuecast-ssml", "cuecast-start-analysis"]
