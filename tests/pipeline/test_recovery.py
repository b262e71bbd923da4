"""Recovery: a retry after a partial success completes cleanly, an edit during a run is not
lost, and the reconcile entry point finds lost doorbells, expired leases and exhausted jobs.

Every delivery is a real Pub/Sub CloudEvent posted to the function through functions-framework
(HTTP 200 acknowledges, 429 asks Pub/Sub to redeliver); the providers are small fakes of the
ports; faults inside a transaction are injected by the database itself.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import psycopg
from psycopg import sql

from shared.adapters.ssml_builder import SsmlBuilder
from shared.domain import Speech, SsmlScript, SsmlSegment, Stage, Voice
from shared.errors import PermanentError, TransientError
from shared.messages import PUBSUB_EVENT_TYPE, encode
from tests.db.helpers import add_feedback, analysis_job, bus_moved_past, job, statuses
from tests.pipeline.harness import Pipeline, pipeline

FUNCTION = {Stage.ANALYSIS: "start_analysis", Stage.SSML: "ssml", Stage.AUDIO: "audio"}
_PART = re.compile(r"part (\d+)")


def deliver(p: Pipeline, stage: Stage, key: int) -> int:
    """Post one structured Pub/Sub CloudEvent for `key` to the stage's function; its status."""
    data = base64.b64encode(json.dumps(encode(stage, key)).encode()).decode()
    message_id = uuid.uuid4().hex
    event = {
        "specversion": "1.0",
        "id": message_id,
        "source": f"//pubsub.googleapis.com/projects/local/topics/{stage}",
        "type": PUBSUB_EVENT_TYPE,
        "datacontenttype": "application/json",
        "data": {"message": {"data": data, "messageId": message_id}, "subscription": "s"},
    }
    headers = {"Content-Type": "application/cloudevents+json"}
    return int(p.clients[FUNCTION[stage]].post("/", json=event, headers=headers).status_code)


def wait_until_due(conn: psycopg.Connection[Any], table: str, feedback_id: int) -> None:
    """Wait out the job's backoff (the due time the database set), as Pub/Sub would."""
    query = sql.SQL("select due_at <= now() from {} where feedback_id = %s").format(
        sql.Identifier(table)
    )
    deadline = time.monotonic() + 10
    while not conn.execute(query, (feedback_id,)).fetchone()[0]:  # type: ignore[index]
        assert time.monotonic() < deadline, f"{table} job for {feedback_id} never became due"
        time.sleep(0.02)


class ScriptedWriter:
    """A fake SsmlWriter: run n writes `counts[n]` segments (the last count repeats), each
    saying which run wrote it, as a model that answers differently each time would."""

    def __init__(self, *counts: int) -> None:
        self.counts, self.runs = counts, 0

    def write(self, message: str, *, category: str, voice: Voice) -> SsmlScript:
        self.runs += 1
        count = self.counts[min(self.runs, len(self.counts)) - 1]
        segments = tuple(
            SsmlSegment(i, f"<speak>run {self.runs} part {i}</speak>") for i in range(count)
        )
        return SsmlScript(segments, provider="scripted", version=f"run-{self.runs}")


class FlakySynthesizer:
    """A fake SpeechSynthesizer, one segment at a time: the first call for segment
    `fail_index` fails transiently. `take` (set by the test) is stamped into the audio."""

    max_concurrency = 1

    def __init__(self, fail_index: int | None = None) -> None:
        self.fail_index, self.take, self.calls = fail_index, 1, []

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        match = _PART.search(ssml)
        index = int(match.group(1)) if match else 0
        self.calls.append(index)
        if index == self.fail_index:
            self.fail_index = None
            raise TransientError(f"503 from text-to-speech on segment {index}")
        audio = f"take {self.take} segment {index}".encode()
        return Speech(audio, "mp3", "audio/mpeg", 1000 * self.take + index, "fake-tts", "v1")


def inject_failure_on_audio_enqueue(conn: psycopg.Connection[Any]) -> None:
    """The database fails the first write to `audio_jobs` with a serialization failure (a
    transient error): the ssml save fails after its segment rows were written. The sequence
    is not transactional, so the fault fires once even though its transaction rolls back."""
    conn.execute("create sequence public.test_fault_calls")
    conn.execute(
        "create function public.test_fail_once() returns trigger language plpgsql as $$"
        " begin"
        "   if nextval('public.test_fault_calls') = 1 then"
        "     raise exception 'injected serialization failure'"
        "       using errcode = 'serialization_failure';"
        "   end if;"
        "   return new;"
        " end $$"
    )
    conn.execute(
        "create trigger test_fail_once before insert or update on public.audio_jobs"
        " for each row execute function public.test_fail_once()"
    )


def ssml_rows(conn: psycopg.Connection[Any], feedback_id: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select segment_index, ssml, provider, version from analysis_ssml_segments"
        " where feedback_id = %s order by segment_index",
        (feedback_id,),
    ).fetchall()


def audio_rows(conn: psycopg.Connection[Any], feedback_id: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select segment_index, audio_url, duration_ms, format from analysis_audio_segments"
        " where feedback_id = %s order by segment_index",
        (feedback_id,),
    ).fetchall()


def test_ssml_retry_after_a_failed_save_keeps_exactly_the_retry_segments(conn, db_url, tmp_path):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Breathe out. Then lift. Keep it slow.")
    inject_failure_on_audio_enqueue(conn)
    with pipeline(db_url, tmp_path) as p:
        p.app.ssml_writer = writer = ScriptedWriter(3, 2)
        assert deliver(p, Stage.SSML, fid) == 429  # transient: a planned redelivery
        status, attempts, error, _ = job(conn, "ssml_jobs", fid)
        assert (status, attempts) == ("queued", 1)
        assert "injected serialization failure" in error
        assert ssml_rows(conn, fid) == []  # the three segments of run 1 were rolled back
        assert job(conn, "audio_jobs", fid) is None
        assert p.bus.published == []

        wait_until_due(conn, "ssml_jobs", fid)
        assert deliver(p, Stage.SSML, fid) == 200
        assert writer.runs == 2
        assert ssml_rows(conn, fid) == [
            (0, "<speak>run 2 part 0</speak>", "scripted", "run-2"),
            (1, "<speak>run 2 part 1</speak>", "scripted", "run-2"),
        ]
        assert job(conn, "ssml_jobs", fid) == ("completed", 2, None, 1)
        assert job(conn, "audio_jobs", fid)[0] == "queued"
        assert statuses(conn, fid) == ("completed", "queued")
        assert p.bus.published == [(p.app.settings.topic_audio, {"feedback_id": fid})]


def test_audio_retry_after_a_partial_upload_leaves_one_object_per_segment(conn, db_url, tmp_path):
    user, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Shoulders down. Eyes up. Smile.")
    prefix = f"{user}/{job_id}/{fid}"
    with pipeline(db_url, tmp_path) as p:
        p.app.ssml_writer = ScriptedWriter(3)
        p.app.synthesizer = synth = FlakySynthesizer(fail_index=1)
        assert deliver(p, Stage.SSML, fid) == 200

        assert deliver(p, Stage.AUDIO, fid) == 429  # segment 0 uploaded, segment 1 failed
        assert job(conn, "audio_jobs", fid)[:2] == ("queued", 1)
        assert statuses(conn, fid) == ("completed", "queued")
        assert audio_rows(conn, fid) == []
        uploaded = p.storage.list("processed", prefix)
        assert f"{prefix}/1/0.mp3" in uploaded
        assert f"{prefix}/1/1.mp3" not in uploaded

        synth.take = 2
        wait_until_due(conn, "audio_jobs", fid)
        assert deliver(p, Stage.AUDIO, fid) == 200
        assert synth.calls[-3:] == [0, 1, 2]
        paths = [f"{prefix}/1/{i}.mp3" for i in range(3)]
        assert audio_rows(conn, fid) == [(i, paths[i], 2000 + i, "mp3") for i in range(3)]
        assert p.storage.list("processed", prefix) == paths  # no orphans, nothing missing
        for i, path in enumerate(paths):  # the retry's audio replaced the first take
            with p.storage.open_read("processed", path) as f:
                assert f.read() == f"take 2 segment {i}".encode()
        assert job(conn, "audio_jobs", fid)[:2] == ("completed", 2)
        assert statuses(conn, fid) == ("completed", "completed")


def test_a_rerun_with_fewer_segments_leaves_no_stale_rows_or_objects(conn, db_url, tmp_path):
    user, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Shoulders down. Eyes up. Smile.")
    prefix = f"{user}/{job_id}/{fid}"
    with pipeline(db_url, tmp_path) as p:
        p.app.ssml_writer = ScriptedWriter(3, 1)
        p.app.synthesizer = FlakySynthesizer()
        assert deliver(p, Stage.SSML, fid) == 200
        assert deliver(p, Stage.AUDIO, fid) == 200
        assert len(ssml_rows(conn, fid)) == 3
        assert p.storage.list("processed", prefix) == [f"{prefix}/1/{i}.mp3" for i in range(3)]

        conn.execute("update analysis_feedback set message = 'Smile.' where id = %s", (fid,))
        assert deliver(p, Stage.SSML, fid) == 200
        assert deliver(p, Stage.AUDIO, fid) == 200

        assert [row[:2] for row in ssml_rows(conn, fid)] == [(0, "<speak>run 2 part 0</speak>")]
        generation = job(conn, "audio_jobs", fid)[3]
        assert generation > 1
        assert audio_rows(conn, fid) == [(0, f"{prefix}/{generation}/0.mp3", 1000, "mp3")]
        assert p.storage.list("processed", prefix) == [f"{prefix}/{generation}/0.mp3"]
        assert statuses(conn, fid) == ("completed", "completed")


class EditingWriter:
    """The real SsmlBuilder, but during its first run the user edits the message (on another
    connection, committed while the ssml job is still processing)."""

    def __init__(self, db_url: str, feedback_id: int, new_message: str) -> None:
        self.db_url, self.feedback_id, self.new_message = db_url, feedback_id, new_message
        self.seen: list[str] = []

    def write(self, message: str, *, category: str, voice: Voice) -> SsmlScript:
        self.seen.append(message)
        if len(self.seen) == 1:
            with psycopg.connect(self.db_url, autocommit=True) as other:
                other.execute(
                    "update analysis_feedback set message = %s where id = %s",
                    (self.new_message, self.feedback_id),
                )
        return SsmlBuilder().write(message, category=category, voice=voice)


def test_an_edit_during_an_ssml_run_is_not_lost(conn, db_url, tmp_path):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Old advice: lean back.")
    with pipeline(db_url, tmp_path) as p:
        p.app.ssml_writer = writer = EditingWriter(db_url, fid, "New advice: lean forward.")
        assert deliver(p, Stage.SSML, fid) == 200  # acknowledged: its result is stale

        assert job(conn, "ssml_jobs", fid) == ("queued", 0, None, 2)  # re-queued, generation 2
        assert statuses(conn, fid) == ("queued", "pending")
        assert ssml_rows(conn, fid) == []  # the run for the old text saved nothing
        assert p.bus.published == []  # and rang no audio doorbell

        assert deliver(p, Stage.SSML, fid) == 200  # the edit's doorbell
        assert writer.seen == ["Old advice: lean back.", "New advice: lean forward."]
        (segment,) = ssml_rows(conn, fid)
        assert "New advice: lean forward." in segment[1]
        assert "Old advice" not in segment[1]
        assert job(conn, "ssml_jobs", fid) == ("completed", 1, None, 2)
        assert statuses(conn, fid) == ("completed", "queued")
        assert p.bus.published == [(p.app.settings.topic_audio, {"feedback_id": fid})]


def _age(conn: psycopg.Connection[Any], table: str, where: str, key: int, **values: Any) -> None:
    """Set columns of one job row (SQL expressions, e.g. "now() - interval '5 minutes'")."""
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.SQL(expression))
        for column, expression in values.items()
    )
    conn.execute(
        sql.SQL("update {} set {} where {} = %s").format(
            sql.Identifier(table), assignments, sql.Identifier(where)
        ),
        (key,),
    )


LONG_AGO = "now() - interval '5 minutes'"
EXPIRED = "now() - interval '1 second'"


def seed_sweep_cases(conn: psycopg.Connection[Any]) -> tuple[int, dict[str, int]]:
    """An analysis job whose doorbell was lost, and ssml jobs for each case the sweep
    handles (max attempts 3): the analysis job id and {case: feedback id}."""
    _, _, job_id = analysis_job(conn)
    names = ("lost", "leased", "exhausted", "last_try", "fresh")
    ids = {name: add_feedback(conn, job_id, i, f"Item {i}.") for i, name in enumerate(names)}
    _age(conn, "analysis_jobs", "id", job_id, due_at=LONG_AGO, published_at=LONG_AGO)
    _age(conn, "ssml_jobs", "feedback_id", ids["lost"], due_at=LONG_AGO, published_at=LONG_AGO)
    for name, attempts in (("leased", "1"), ("last_try", "3")):
        _age(
            conn,
            "ssml_jobs",
            "feedback_id",
            ids[name],
            status="'processing'",
            attempts=attempts,
            lease_expires_at=EXPIRED,
        )
    _age(conn, "ssml_jobs", "feedback_id", ids["exhausted"], attempts="3", published_at=LONG_AGO)
    bus_moved_past(conn)  # a probe sent after those doorbells came through: they are lost
    return job_id, ids


def test_reconcile_rings_lost_doorbells_reclaims_leases_and_fails_exhausted_jobs(
    conn, db_url, tmp_path
):
    job_id, ids = seed_sweep_cases(conn)
    rung = sorted([ids["lost"], ids["leased"]])
    with pipeline(db_url, tmp_path, CUECAST_MAX_ATTEMPTS=3) as p:
        response = p.clients["reconcile"].post("/")
        assert response.status_code == 200
        assert response.get_json() == {
            "republished": {"start-analysis": [job_id], "ssml": rung, "audio": []},
            "reclaimed": {"start-analysis": 0, "ssml": 2, "audio": 0},
            "failed": {
                "start-analysis": [],
                "ssml": sorted([ids["exhausted"], ids["last_try"]]),
                "audio": [],
            },
        }
        settings = p.app.settings
        assert _doorbells(p) == [
            (settings.topic_start_analysis, {"analysis_job_id": job_id}),
            *((settings.topic_ssml, {"feedback_id": fid}) for fid in rung),
        ]
        assert [topic for topic, m in p.bus.published if "probe" in m] == [
            settings.topic(stage) for stage in Stage
        ]  # and a probe down every topic, behind the doorbells
        assert job(conn, "ssml_jobs", ids["leased"])[:2] == ("queued", 1)
        assert job(conn, "ssml_jobs", ids["fresh"])[:2] == ("queued", 0)
        for name in ("exhausted", "last_try"):
            assert job(conn, "ssml_jobs", ids[name])[0] == "failed"
            assert statuses(conn, ids[name]) == ("failed", "failed")

        again = p.clients["reconcile"].post("/").get_json()  # within the grace: nothing new
        assert again["republished"] == {"start-analysis": [], "ssml": [], "audio": []}
        assert len(_doorbells(p)) == 3


def _doorbells(p: Pipeline) -> list[tuple[str, dict[str, object]]]:
    """What the bus was given, without the reconciler's probes."""
    return [(topic, m) for topic, m in p.bus.published if "probe" not in m]


class BrokenSynthesizer(FlakySynthesizer):
    """Segment `fail_index` fails for good (a 400 from text-to-speech: permanent)."""

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        match = _PART.search(ssml)
        if match and int(match.group(1)) == self.fail_index:
            raise PermanentError(f"400 from text-to-speech on segment {self.fail_index}")
        return super().synthesize(ssml, voice)


def test_a_failed_audio_job_removes_its_generations_uploads(conn, db_url, tmp_path):
    user, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Shoulders down. Eyes up. Smile.")
    other = add_feedback(conn, job_id, 1, "Breathe.")
    prefix = f"{user}/{job_id}/{fid}"
    with pipeline(db_url, tmp_path) as p:
        p.app.ssml_writer = ScriptedWriter(3)
        p.app.synthesizer = synth = BrokenSynthesizer()  # the stage keeps this one
        for item in (fid, other):
            assert deliver(p, Stage.SSML, item) == 200
            assert deliver(p, Stage.AUDIO, item) == 200
        kept = p.storage.list("processed", prefix)
        assert kept == [f"{prefix}/1/{i}.mp3" for i in range(3)]

        conn.execute(
            "update analysis_feedback set message = 'Smile, then breathe.' where id = %s", (fid,)
        )
        assert deliver(p, Stage.SSML, fid) == 200
        synth.fail_index = 2  # segments 0 and 1 get uploaded
        assert deliver(p, Stage.AUDIO, fid) == 200  # failed for good: acknowledged
        assert job(conn, "audio_jobs", fid)[0] == "failed"
        # Generation 2's segments 0 and 1 are gone; generation 1, which the rows still name,
        # and the other item's audio are untouched: objects = rows.
        assert p.storage.list("processed", prefix) == kept
        assert [row[1] for row in audio_rows(conn, fid)] == kept
        assert len(p.storage.list("processed", f"{user}/{job_id}/{other}")) == 3


def test_the_reconciler_removes_the_uploads_of_an_audio_job_it_fails(conn, db_url, tmp_path):
    """A worker died on the last attempt after uploading: the lease expires and the sweep
    fails the job, and removes what that run left."""
    user, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Shoulders down. Eyes up. Smile.")
    with pipeline(db_url, tmp_path, CUECAST_MAX_ATTEMPTS=1) as p:
        p.app.ssml_writer = ScriptedWriter(3)
        assert deliver(p, Stage.SSML, fid) == 200
        conn.execute(
            "update audio_jobs set status = 'processing', attempts = 1,"
            " lease_expires_at = now() - interval '1 second' where feedback_id = %s",
            (fid,),
        )
        generation = job(conn, "audio_jobs", fid)[3]
        left = f"{user}/{job_id}/{fid}/{generation}/0.mp3"
        p.storage.upload("processed", left, b"half a run", "audio/mpeg")
        report = p.clients["reconcile"].post("/").get_json()
        assert report["failed"]["audio"] == [fid]
        assert p.storage.list("processed", f"{user}/{job_id}/{fid}") == []
        assert audio_rows(conn, fid) == []
