"""The entry points through functions-framework: webhook checks, malformed events,
duplicates, and the retry/fail protocol."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from shared.domain import Analysis, FeedbackItem, Stage
from shared.errors import TransientError
from shared.messages import PUBSUB_EVENT_TYPE
from tests.bus import deliver_until_idle
from tests.db.helpers import add_feedback, analysis_job
from tests.pipeline.harness import pipeline
from tests.supa import create_user, insert_video


def _event(
    data: object,
    *,
    raw: str | None = None,
    type_: str = PUBSUB_EVENT_TYPE,
    message_id: str = "m1",
) -> dict:
    encoded = raw if raw is not None else base64.b64encode(json.dumps(data).encode()).decode()
    return {
        "specversion": "1.0",
        "id": f"evt-{message_id}",
        "source": "//pubsub.googleapis.com/projects/p/topics/t",
        "type": type_,
        "datacontenttype": "application/json",
        "data": {"message": {"data": encoded, "messageId": message_id}, "subscription": "s"},
    }


def _post_structured(client, event):
    return client.post("/", json=event, headers={"Content-Type": "application/cloudevents+json"})


def _post_binary(client, event):
    headers = {f"ce-{k}": v for k, v in event.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = "application/json"
    return client.post("/", data=json.dumps(event["data"]), headers=headers)


def _post_push(client, event):
    """A plain push subscription's envelope, which functions-framework converts."""
    message = {**event["data"]["message"], "publishTime": "2026-01-01T00:00:00Z"}
    body = {"message": message, "subscription": "projects/p/subscriptions/s"}
    return client.post("/", json=body)


@pytest.mark.parametrize("post", [_post_structured, _post_binary, _post_push])
def test_ssml_in_all_three_event_shapes_then_duplicates_change_nothing(
    conn, db_url, tmp_path, post
):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your chin up & breathe <slowly>.")
    with pipeline(db_url, tmp_path) as p:
        client = p.clients["ssml"]
        assert post(client, _event({"feedback_id": fid})).status_code == 200
        first = conn.execute("select segment_index, ssml from analysis_ssml_segments").fetchall()
        for _ in range(3):
            assert post(client, _event({"feedback_id": fid})).status_code == 200
        assert (
            conn.execute("select segment_index, ssml from analysis_ssml_segments").fetchall()
            == first
        )
        assert conn.execute("select status, attempts from ssml_jobs").fetchone() == (
            "completed",
            1,
        )
        assert "&lt;slowly&gt;" in first[0][1]
        assert p.bus.published == [("cuecast-audio", {"feedback_id": fid})]


MALFORMED = [
    ("bad base64", _event(None, raw="!!not base64!!")),
    ("not json", _event(None, raw=base64.b64encode(b"{nope").decode())),
    ("wrong shape", _event({"analysis_job_id": 1})),
    ("extra keys", _event({"feedback_id": 1, "x": 2})),
    ("rerun not a bool", _event({"feedback_id": 1, "rerun": "yes"})),
    ("rerun alone", _event({"rerun": True})),
    ("list", _event([1, 2])),
    ("negative", _event({"feedback_id": -5})),
    ("zero", _event({"feedback_id": 0})),
    ("huge", _event({"feedback_id": 2**70})),
    ("float", _event({"feedback_id": 1.5})),
    ("string", _event({"feedback_id": "7"})),
    ("bool", _event({"feedback_id": True})),
    ("null", _event({"feedback_id": None})),
    ("unknown id", _event({"feedback_id": 999999})),
    ("oversized", _event(None, raw=base64.b64encode(b"x" * 1_000_000).decode())),
    ("wrong type", _event({"feedback_id": 1}, type_="google.cloud.storage.object.v1.finalized")),
    ("binary junk", _event(None, raw=base64.b64encode(b"\xff\xfe\x00").decode())),
]


@pytest.mark.parametrize(("name", "event"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_events_are_acknowledged_and_change_nothing(
    conn, db_url, tmp_path, caplog, name, event
):
    _, _, job_id = analysis_job(conn)
    add_feedback(conn, job_id, 0, "Chin up.")
    before = conn.execute("select status, attempts, updated_at from ssml_jobs").fetchall()
    with pipeline(db_url, tmp_path) as p:
        response = _post_structured(p.clients["ssml"], event)
    assert response.status_code == 200, name
    assert conn.execute("select status, attempts, updated_at from ssml_jobs").fetchall() == before
    assert any("acknowledged" in r.getMessage() for r in caplog.records), name


class FlakyAnalyzer:
    """A fake Analyzer port: fails transiently `failures` times, then analyses."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures, self.calls = failures, 0
        self.error = error or TransientError("503 from the model")

    def analyze(self, video, *, size, content_type, voice):
        self.calls += 1
        video.read(16)
        if self.calls <= self.failures:
            raise self.error
        item = FeedbackItem(0.5, "pacing", "Slow down a little.", 0.9, 0.6)
        return Analysis(duration_seconds=3.0, items=(item,), provider="fake")


def _video_job(conn, p, content: bytes = b"not really a video"):
    user = create_user(conn)
    video = insert_video(conn, user, upload_status="completed")
    path = conn.execute("select storage_path from video_recordings where id = %s", (video,))
    p.storage.upload("raw", path.fetchone()[0], content, "video/mp4")
    return conn.execute("select id from analysis_jobs").fetchone()[0]


def test_a_reconciler_probe_is_marked_delivered_and_nothing_else(conn, db_url, tmp_path):
    probe = conn.execute("select cuecast.send_probe('ssml')").fetchone()[0]
    with pipeline(db_url, tmp_path) as p:
        client = p.clients["ssml"]
        assert _post_structured(client, _event({"probe": probe})).status_code == 200
        assert _post_structured(client, _event({"probe": probe + 1000})).status_code == 200
        assert _post_structured(client, _event({"probe": "soon"})).status_code == 200
        assert (
            _post_structured(client, _event({"probe": probe, "feedback_id": 1})).status_code == 200
        )
        assert p.bus.published == []
    rows = conn.execute(
        "select id, stage, delivered_at is not null from cuecast.doorbell_probes"
    ).fetchall()
    assert rows == [(probe, "ssml", True)]
    assert conn.execute("select cuecast.probe_horizon('ssml') is not null").fetchone() == (True,)
    assert conn.execute("select cuecast.probe_horizon('audio')").fetchone() == (None,)


def test_transient_failure_retries_with_backoff_then_fails(conn, db_url, tmp_path):
    with pipeline(db_url, tmp_path, CUECAST_MAX_ATTEMPTS=2) as p:
        p.app.analyzer = FlakyAnalyzer(failures=10)
        job_id = _video_job(conn, p)
        client = p.clients["start_analysis"]
        event = _event({"analysis_job_id": job_id})
        assert _post_structured(client, event).status_code == 429  # a planned redelivery
        status, attempts, due_later, error = conn.execute(
            "select status, attempts, due_at > now(), error_message from analysis_jobs"
        ).fetchone()
        assert (status, attempts, due_later) == ("queued", 1, True)
        assert "503" in error
        assert _post_structured(client, event).status_code == 429  # early: not due yet
        assert conn.execute("select attempts from analysis_jobs").fetchone() == (1,)
        conn.execute("update analysis_jobs set due_at = now()")
        assert _post_structured(client, event).status_code == 200  # last attempt: failed
        assert conn.execute("select status, attempts from analysis_jobs").fetchone() == (
            "failed",
            2,
        )


def test_a_planned_redelivery_is_one_warning_without_a_traceback(conn, db_url, tmp_path, caplog):
    """A transient failure with attempts left, then a doorbell before the job is due: each is
    answered 429 (Pub/Sub retries it) with one WARNING line, and nothing at ERROR."""
    with pipeline(db_url, tmp_path, CUECAST_MAX_ATTEMPTS=3) as p:
        p.app.analyzer = FlakyAnalyzer(failures=10)
        event = _event({"analysis_job_id": _video_job(conn, p)})
        for expected in ("transient failure; will retry", "not due yet; redelivery asked"):
            caplog.clear()
            with caplog.at_level("INFO"):
                assert _post_structured(p.clients["start_analysis"], event).status_code == 429
            loud = [r for r in caplog.records if r.levelname != "INFO"]
            assert [(r.levelname, r.getMessage()) for r in loud] == [("WARNING", expected)]
            assert not any(r.exc_info for r in caplog.records)


def test_permanent_failure_fails_at_once(conn, db_url, tmp_path):
    with pipeline(db_url, tmp_path) as p:
        p.app.analyzer = FlakyAnalyzer(failures=0)
        job_id = _video_job(conn, p)
        p.storage.delete("raw", p.storage.list("raw", ""))  # the video object is gone
        event = _event({"analysis_job_id": job_id})
        assert _post_structured(p.clients["start_analysis"], event).status_code == 200
        status, attempts, error = conn.execute(
            "select status, attempts, error_message from analysis_jobs"
        ).fetchone()
    assert (status, attempts) == ("failed", 1)
    assert error


@pytest.mark.parametrize(
    ("content", "offline", "reason"),
    [
        (b"", False, "the file is empty"),  # checked before any provider is called
        (b"", True, "the file is empty"),
        (b"not really a video", True, "the file cannot be decoded (Invalid data found"),
    ],
)
def test_a_video_that_cannot_be_analysed_fails_at_once_naming_the_file(
    conn, db_url, tmp_path, content, offline, reason
):
    with pipeline(db_url, tmp_path) as p:
        counting = FlakyAnalyzer(failures=0)
        if not offline:
            p.app.analyzer = counting
        job_id = _video_job(conn, p, content)
        path = conn.execute("select storage_path from video_recordings").fetchone()[0]
        event = _event({"analysis_job_id": job_id})
        assert _post_structured(p.clients["start_analysis"], event).status_code == 200
        status, attempts, error = conn.execute(
            "select status, attempts, error_message from analysis_jobs"
        ).fetchone()
    assert (status, attempts) == ("failed", 1)
    assert error.startswith(f"UndecodableVideo: raw/{path}: {reason}")
    assert counting.calls == 0


def test_two_workers_one_job_exactly_one_runs(conn, db_url, tmp_path):
    with pipeline(db_url, tmp_path) as p:
        analyzer = FlakyAnalyzer(failures=0)
        p.app.analyzer = analyzer
        for round_ in range(50):
            conn.execute("delete from analysis_jobs")
            job_id = _video_job(conn, p)
            barrier = threading.Barrier(2)
            results = []

            def worker(job_id=job_id, barrier=barrier, results=results):
                barrier.wait()
                results.append(p.app.run(Stage.ANALYSIS, job_id))

            threads = [threading.Thread(target=worker) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results) == ["completed", "nothing-to-do"], round_
        assert analyzer.calls == 50


@pytest.fixture
def hook(conn, db_url, tmp_path):
    with pipeline(db_url, tmp_path) as p:
        yield p


def _hook(p, body, secret=None, **kw):
    headers = {"X-Webhook-Secret": p.secret if secret is None else secret}
    return p.clients["webhook"].post("/", json=body, headers=headers, **kw)


def test_webhook_good_secret_publishes_once_per_call(conn, hook):
    user = create_user(conn)
    video = insert_video(conn, user, upload_status="completed")
    job_id = conn.execute("select id from analysis_jobs").fetchone()[0]
    payload = {
        "type": "INSERT",
        "table": "analysis_jobs",
        "schema": "public",
        "record": {"id": job_id},
    }
    response = _hook(hook, payload)
    assert response.status_code == 202
    assert response.get_json() == {"analysis_job_id": job_id, "published": True}
    assert _hook(hook, {"videoRecordingId": video}).get_json()["analysis_job_id"] == job_id
    path = conn.execute("select storage_path from video_recordings").fetchone()[0]
    assert _hook(hook, {"videoPath": path}).get_json()["analysis_job_id"] == job_id
    assert hook.bus.published == [("cuecast-start-analysis", {"analysis_job_id": job_id})] * 3
    assert conn.execute("select count(*) from analysis_jobs").fetchone() == (1,)


def test_webhook_rings_an_edited_items_ssml(conn, hook):
    payload = {"type": "UPDATE", "table": "ssml_jobs", "schema": "public",
               "record": {"id": 3, "feedback_id": 41, "status": "queued", "generation": 2},
               "old_record": None}  # fmt: skip
    response = _hook(hook, payload)
    assert response.status_code == 202
    assert response.get_json() == {"feedback_id": 41, "published": True}
    assert hook.bus.published == [("cuecast-ssml", {"feedback_id": 41})]
    bad = {**payload, "record": {"feedback_id": "41; drop table ssml_jobs"}}
    assert _hook(hook, bad).status_code == 400
    assert len(hook.bus.published) == 1


def test_webhook_manual_start_creates_the_job(conn, hook):
    user = create_user(conn)
    video = insert_video(conn, user)  # upload not completed: no job yet
    response = _hook(hook, {"videoRecordingId": video})
    assert response.status_code == 202
    assert conn.execute("select count(*), min(status) from analysis_jobs").fetchone() == (
        1,
        "queued",
    )


@pytest.mark.parametrize(
    "secret_change",
    [lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), lambda s: s + "x", lambda s: s[:-1],
     lambda s: s.swapcase(), lambda s: ""],
    ids=["last byte", "longer", "shorter", "case", "empty"],
)  # fmt: skip
def test_webhook_wrong_secret_is_401_and_publishes_nothing(hook, secret_change):
    response = _hook(hook, {"videoRecordingId": 1}, secret=secret_change(hook.secret))
    assert response.status_code == 401
    assert hook.bus.published == []


def test_webhook_missing_secret_header_is_401(hook):
    response = hook.clients["webhook"].post("/", json={"videoRecordingId": 1})
    assert response.status_code == 401
    assert hook.bus.published == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_webhook_other_methods_are_405(hook, method):
    response = hook.clients["webhook"].open("/", method=method)
    assert response.status_code == 405
    assert hook.bus.published == []


@pytest.mark.parametrize(
    "body",
    [[], "x", {}, {"videoRecordingId": "1"}, {"videoRecordingId": -1}, {"videoPath": ""},
     {"table": "other", "record": {"id": 1}}, {"videoRecordingId": 1.0}],
)  # fmt: skip
def test_webhook_malformed_bodies_are_400(hook, body):
    response = _hook(hook, body)
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert hook.bus.published == []


def test_webhook_non_json_is_rejected(hook):
    response = hook.clients["webhook"].post(
        "/", data="videoRecordingId=1", headers={"X-Webhook-Secret": hook.secret}
    )
    assert response.status_code == 415
    assert hook.bus.published == []


def test_webhook_unknown_recording_is_404(hook):
    assert _hook(hook, {"videoRecordingId": 424242}).status_code == 404
    assert _hook(hook, {"videoPath": "nobody/none.mp4"}).status_code == 404
    assert hook.bus.published == []


def test_webhook_duplicate_deliveries_analyse_once(conn, db_url, tmp_path):
    with pipeline(db_url, tmp_path) as p:
        analyzer = FlakyAnalyzer(failures=0)
        p.app.analyzer = analyzer
        job_id = _video_job(conn, p)
        payload = {"type": "INSERT", "table": "analysis_jobs", "record": {"id": job_id}}
        for _ in range(2):
            assert _hook(p, payload).status_code == 202
        deliver_until_idle(p.bus, timeout=60)
        assert analyzer.calls == 1
        assert conn.execute("select count(*) from analysis_feedback").fetchone() == (1,)


SHAPES = [_post_structured, _post_binary, _post_push]


def _audio(conn, fid):
    return conn.execute(
        "select a.generation, array(select audio_url from analysis_audio_segments s"
        " where s.feedback_id = a.feedback_id order by segment_index)"
        " from audio_jobs a where a.feedback_id = %s",
        (fid,),
    ).fetchone()


@pytest.mark.parametrize("post", SHAPES)
def test_a_rerun_message_runs_a_completed_item_again(conn, db_url, tmp_path, post):
    """A republished message that asks for a re-run: a new generation of SSML, then audio,
    whose objects replace the old ones; the same message delivered again changes nothing."""
    user, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your chin up.")
    with pipeline(db_url, tmp_path) as p:
        assert post(p.clients["ssml"], _event({"feedback_id": fid})).status_code == 200
        deliver_until_idle(p.bus)
        generation, urls = _audio(conn, fid)
        assert generation == 1 and len(urls) == 1
        before = conn.execute("select created_at from analysis_ssml_segments").fetchone()

        rerun = _event({"feedback_id": fid, "rerun": True}, message_id="rerun-1")
        assert post(p.clients["ssml"], rerun).status_code == 200
        deliver_until_idle(p.bus)
        assert conn.execute("select status, attempts, generation from ssml_jobs").fetchone() == (
            "completed", 1, 2,
        )  # fmt: skip
        assert conn.execute("select created_at from analysis_ssml_segments").fetchone() > before
        generation, new_urls = _audio(conn, fid)
        assert generation == 2 and new_urls == [f"{user}/{job_id}/{fid}/2/0.wav"]
        assert p.storage.list("processed", f"{user}/{job_id}/{fid}") == new_urls

        assert post(p.clients["ssml"], rerun).status_code == 200  # a redelivery: no re-run
        deliver_until_idle(p.bus)
        assert conn.execute("select generation from ssml_jobs").fetchone() == (2,)
        assert _audio(conn, fid)[0] == 2


def test_a_rerun_of_audio_alone_failed_or_completed(conn, db_url, tmp_path):
    user, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your chin up.")
    with pipeline(db_url, tmp_path) as p:
        assert _post_structured(p.clients["ssml"], _event({"feedback_id": fid})).status_code == 200
        deliver_until_idle(p.bus)
        conn.execute("update audio_jobs set status = 'failed', last_error = 'quota'")
        for n, expected in ((1, 2), (2, 3)):  # failed, then completed: both run again
            event = _event({"feedback_id": fid, "rerun": True}, message_id=f"audio-{n}")
            assert _post_binary(p.clients["audio"], event).status_code == 200
            row = conn.execute("select status, generation, last_error from audio_jobs").fetchone()
            assert row == ("completed", expected, None)
        assert conn.execute("select generation from ssml_jobs").fetchone() == (1,)
        assert p.storage.list("processed", f"{user}/{job_id}/{fid}") == [
            f"{user}/{job_id}/{fid}/3/0.wav"
        ]


def test_a_rerun_waits_for_a_running_job_and_ignores_unknown_ones(conn, db_url, tmp_path):
    _, _, job_id = analysis_job(conn)
    fid = add_feedback(conn, job_id, 0, "Keep your chin up.")
    conn.execute(
        "update ssml_jobs set status = 'processing', attempts = 1,"
        " lease_expires_at = now() + interval '5 minutes'"
    )
    with pipeline(db_url, tmp_path) as p:
        event = _event({"feedback_id": fid, "rerun": True}, message_id="busy-1")
        assert _post_push(p.clients["ssml"], event).status_code == 429  # asked again later
        assert conn.execute("select status, generation from ssml_jobs").fetchone() == (
            "processing", 1,
        )  # fmt: skip
        unknown = _event({"feedback_id": 999_999, "rerun": True}, message_id="nobody-1")
        assert _post_push(p.clients["ssml"], unknown).status_code == 200
    assert conn.execute("select count(*) from cuecast.reruns").fetchone() == (0,)


def test_a_rerun_of_a_completed_analysis(conn, db_url, tmp_path):
    with pipeline(db_url, tmp_path) as p:
        p.app.analyzer = FlakyAnalyzer(failures=0)
        job_id = _video_job(conn, p)
        client = p.clients["start_analysis"]
        assert _post_structured(client, _event({"analysis_job_id": job_id})).status_code == 200
        event = _event({"analysis_job_id": job_id, "rerun": True}, message_id="again-1")
        assert _post_structured(client, event).status_code == 200
        assert p.app.analyzer.calls == 2
        assert conn.execute("select status, generation from analysis_jobs").fetchone() == (
            "completed", 2,
        )  # fmt: skip
        assert conn.execute("select count(*) from analysis_feedback").fetchone() == (1,)
