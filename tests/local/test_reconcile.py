"""Reconcile finds a lost doorbell, an expired lease left by a worker killed between claim
and finish, and a job out of attempts; two reconcilers started together never take the same
job. `cuecast reconcile` runs the same code and, locally, delivers what it rang."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading

import pytest

from shared.bootstrap import App
from shared.domain import Stage
from shared.queue import QueuePolicy
from shared.services.reconciler import reconcile
from shared.settings import Settings
from tests.db.helpers import add_feedback, analysis_job, bus_moved_past

CLAIM_AND_HANG = """
import sys, time
import psycopg
from shared.domain import Stage
from shared.db.jobs import claim_job
from shared.queue import QueuePolicy
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    claim = claim_job(conn, Stage.SSML, int(sys.argv[2]), QueuePolicy(lease_seconds=1))
    print("claimed" if claim else "nothing", flush=True)
    time.sleep(600)
"""


class Recorder:
    """A publisher that keeps what it was given; `sent` without the reconciler's probes."""

    def __init__(self) -> None:
        self.all: list[tuple[str, dict]] = []

    def publish(self, topic, messages, attributes=None) -> None:
        self.all += [(topic, dict(m)) for m in messages]

    @property
    def sent(self) -> list[tuple[str, dict]]:
        return [(topic, m) for topic, m in self.all if "probe" not in m]


def _cli(monkeypatch, db_url: str, *args: str) -> str:
    from shared.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CUECAST_DOORBELL_GRACE_SECONDS", "0")
    out = io.StringIO()
    assert main(list(args), out=out) == 0
    return out.getvalue()


def _kill_a_worker_mid_job(db_url: str, feedback_id: int) -> None:
    """A real process claims the job, then dies before it can finish (SIGKILL)."""
    with subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_HANG, db_url, str(feedback_id)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
    ) as worker:
        try:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "claimed"
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()


def test_cli_reclaims_a_killed_workers_job_and_runs_it(conn, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CUECAST_STORAGE_DIR", str(tmp_path))
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Plant your feet.")
    _kill_a_worker_mid_job(db_url, fid)
    assert conn.execute("select status from ssml_jobs").fetchone() == ("processing",)
    conn.execute("update ssml_jobs set lease_expires_at = now() - interval '1 second'")
    out = _cli(monkeypatch, db_url, "reconcile")
    assert "ssml: republished 1, reclaimed 1, failed 0" in out
    assert "delivered locally" in out
    row = conn.execute("select ssml_status, audio_status from analysis_feedback").fetchone()
    assert row == ("completed", "completed")
    assert conn.execute("select attempts from ssml_jobs").fetchone() == (2,)


def test_lost_doorbell_and_out_of_attempts(conn, db_url):
    _, _, job_id = analysis_job(conn)
    lost = add_feedback(conn, job_id, 0, "Lost bell.")
    spent = add_feedback(conn, job_id, 1, "No attempts left.")
    conn.execute(
        "update ssml_jobs set published_at = now() - interval '10 minutes',"
        " due_at = now() - interval '10 minutes' where feedback_id = %s",
        (lost,),
    )
    conn.execute(
        "update ssml_jobs set status = 'processing', attempts = 3,"
        " lease_expires_at = now() - interval '1 second' where feedback_id = %s",
        (spent,),
    )
    bus_moved_past(conn)
    publisher = Recorder()
    app = App(Settings(DATABASE_URL=db_url))
    try:
        report = reconcile(app.database, publisher, app.topics(), QueuePolicy(max_attempts=3))
    finally:
        app.close()
    assert report.republish[Stage.SSML] == [lost]
    assert report.failed[Stage.SSML] == [spent]
    assert publisher.sent == [("cuecast-ssml", {"feedback_id": lost})]
    error = conn.execute(
        "select status, last_error from ssml_jobs where feedback_id = %s", (spent,)
    ).fetchone()
    assert error == ("failed", "lease expired on the last attempt (3)")
    assert conn.execute(
        "select ssml_status, audio_status from analysis_feedback where id = %s", (spent,)
    ).fetchone() == ("failed", "failed")


def _race(run):
    """Run `run(0)` and `run(1)` in two threads released together; their results."""
    barrier, results = threading.Barrier(2), [None, None]

    def go(i: int) -> None:
        barrier.wait()
        results[i] = run(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("round_", range(3))
def test_two_reconcilers_started_together_take_disjoint_sets(conn, db_url, round_):
    _, _, job_id = analysis_job(conn)
    apps = [App(Settings(DATABASE_URL=db_url)) for _ in range(2)]
    publishers = [Recorder(), Recorder()]
    policy = QueuePolicy(doorbell_grace_seconds=5)  # a bell rung 5 s ago is not lost
    try:
        for repeat in range(20):
            ids = [add_feedback(conn, job_id, repeat * 10 + i, f"item {i}") for i in range(5)]
            expired = ids[:2]
            conn.execute(
                "update ssml_jobs set status = 'processing', attempts = 1,"
                " lease_expires_at = now() - interval '1 second' where feedback_id = any(%s)",
                (expired,),
            )
            conn.execute(
                "update ssml_jobs set published_at = now() - interval '1 minute',"
                " due_at = now() - interval '1 minute'"
            )
            bus_moved_past(conn)
            reports = _race(
                lambda i: reconcile(apps[i].database, publishers[i], apps[i].topics(), policy)
            )
            rung = [fid for r in reports for fid in r.republish[Stage.SSML]]
            reclaimed = sum(r.reclaimed[Stage.SSML] for r in reports)
            assert sorted(rung) == sorted(ids), (repeat, reports)
            assert reclaimed == len(expired)
            conn.execute("update ssml_jobs set status = 'completed'")
    finally:
        for app in apps:
            app.close()
    sent = [m["feedback_id"] for p in publishers for _, m in p.sent]
    assert len(sent) == len(set(sent)) == 100


def test_every_sweep_logs_the_gauges_of_each_stage(conn, db_url, caplog):
    """The line terraform/monitoring.tf's log-based metrics read: one per stage and sweep."""
    _, _, job_id = analysis_job(conn)
    fids = [add_feedback(conn, job_id, i, f"item {i}") for i in range(4)]
    conn.execute(
        "update ssml_jobs set due_at = now() - interval '90 seconds' where feedback_id = %s",
        (fids[0],),
    )
    conn.execute("update ssml_jobs set status = 'failed' where feedback_id = %s", (fids[1],))
    conn.execute(
        "update ssml_jobs set status = 'processing', lease_expires_at = now() + interval '1 hour'"
        " where feedback_id = %s",
        (fids[2],),
    )
    app = App(Settings(DATABASE_URL=db_url))
    try:
        with caplog.at_level("INFO", logger="cuecast.reconcile"):
            reconcile(app.database, Recorder(), app.topics(), QueuePolicy())
    finally:
        app.close()
    lines = {r.stage: r for r in caplog.records if r.getMessage() == "stage gauges"}
    assert sorted(lines) == sorted(str(s) for s in Stage)
    ssml = lines["ssml"]
    assert (ssml.queued, ssml.processing, ssml.failed) == (2, 1, 1)
    assert 89 <= ssml.oldest_queued_s <= 120
    analysis = lines["start-analysis"]
    assert (analysis.queued, analysis.failed) == (1, 0)
