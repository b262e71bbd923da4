"""Database faults inside a stage, one at a time: a statement timeout in the finishing
transaction is a transient error (retried with backoff, then completed), and a connection
cut between claim and finish makes the function raise for redelivery while the pool
replaces the connection (it checks only connections that sat idle: shared.pool)."""

from __future__ import annotations

import threading

import psycopg

from shared.adapters.ssml_builder import SsmlBuilder
from shared.domain import Stage
from tests.chaos.faults import terminate_connections
from tests.db.helpers import add_feedback, analysis_job, job
from tests.pipeline.harness import pipeline
from tests.pipeline.test_recovery import deliver, wait_until_due


class LockingWriter:
    """Writes real SSML, but first has another connection lock the item's feedback row for
    `hold_s`: the stage's finishing statements (which move the item's status) must wait."""

    def __init__(self, db_url: str, hold_s: float) -> None:
        self.db_url, self.hold_s, self.calls = db_url, hold_s, 0
        self.builder = SsmlBuilder()

    def write(self, message: str, **kwargs):
        self.calls += 1
        if self.calls == 1:
            locked = threading.Event()
            threading.Thread(target=self._hold, args=(locked,), daemon=True).start()
            locked.wait(5)
        return self.builder.write(message, **kwargs)

    def _hold(self, locked: threading.Event) -> None:
        with psycopg.connect(self.db_url) as conn:
            conn.execute("select id from analysis_feedback for update")
            locked.set()
            threading.Event().wait(self.hold_s)
            conn.rollback()


def test_a_statement_timeout_in_a_stage_is_transient(conn, db_url, tmp_path):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your shoulders down.")
    with pipeline(db_url, tmp_path, CUECAST_STATEMENT_TIMEOUT_MS=500) as p:
        p.app.ssml_writer = LockingWriter(db_url, hold_s=0.8)
        assert deliver(p, Stage.SSML, fid) == 429  # a planned redelivery
        status, attempts, error, _ = job(conn, "ssml_jobs", fid)
        assert (status, attempts) == ("queued", 1)
        assert "statement timeout" in error
        wait_until_due(conn, "ssml_jobs", fid)
        assert deliver(p, Stage.SSML, fid) == 200
        assert job(conn, "ssml_jobs", fid)[:3] == ("completed", 2, None)


class CuttingWriter:
    """Cuts every other connection to the database between the claim and the finish."""

    def __init__(self, db_url: str, protect: set[int]) -> None:
        self.db_url, self.protect, self.cut = db_url, protect, 0
        self.builder = SsmlBuilder()

    def write(self, message: str, **kwargs):
        if not self.cut:
            self.cut = terminate_connections(self.db_url, self.protect)
        return self.builder.write(message, **kwargs)


def test_a_connection_cut_between_claim_and_finish_costs_one_attempt(conn, db_url, tmp_path):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Breathe out on the push.")
    with pipeline(db_url, tmp_path, CUECAST_DB_POOL_MAX_SIZE=1) as p:
        writer = CuttingWriter(db_url, {conn.info.backend_pid})
        p.app.ssml_writer = writer
        # The pool's only connection was returned a moment ago, so it is lent unchecked: the
        # finish fails, the failure is recorded on a new connection, and Pub/Sub redelivers.
        assert deliver(p, Stage.SSML, fid) == 429
        assert writer.cut >= 1  # the pool's only connection was among them
        status, attempts, error, _ = job(conn, "ssml_jobs", fid)
        assert (status, attempts) == ("queued", 1)
        assert "terminat" in error, error
        wait_until_due(conn, "ssml_jobs", fid)
        assert deliver(p, Stage.SSML, fid) == 200
        assert job(conn, "ssml_jobs", fid)[:3] == ("completed", 2, None)


DIE_ONCE = """
create sequence public.die_once;  -- nextval survives the rollback of the killed transaction
create function public.die_once() returns trigger language plpgsql as $$
begin
  if nextval('public.die_once') = 1 then
    perform pg_terminate_backend(pg_backend_pid());
  end if;
  return new;
end $$;
create trigger die_once before insert on public.analysis_ssml_segments
  for each row execute function public.die_once();
"""


def test_a_connection_lost_inside_the_finish_raises_for_redelivery(conn, db_url, tmp_path):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Drive through your heels.")
    conn.execute(DIE_ONCE)
    with pipeline(db_url, tmp_path) as p:
        assert deliver(p, Stage.SSML, fid) == 429
        status, attempts, error, _ = job(conn, "ssml_jobs", fid)
        assert (status, attempts) == ("queued", 1)
        assert "terminat" in error or "connection" in error, error
        assert conn.execute("select count(*) from analysis_ssml_segments").fetchone() == (0,)
        wait_until_due(conn, "ssml_jobs", fid)
        assert deliver(p, Stage.SSML, fid) == 200
        assert job(conn, "ssml_jobs", fid)[:3] == ("completed", 2, None)
