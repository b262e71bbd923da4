"""One trace id follows a job across the functions: the webhook takes it from Cloud Run's
X-Cloud-Trace-Context (or makes one), passes it on as a Pub/Sub attribute, and every stage
logs it in Cloud Logging's trace field and passes it to the next doorbell."""

from __future__ import annotations

import io
import json
import logging

from shared.logs import JsonFormatter
from shared.ports import RAW_BUCKET
from shared.sample_video import write_sample_video
from tests.bus import deliver_until_idle
from tests.pipeline.harness import pipeline
from tests.supa import complete_upload, create_user, insert_video

TRACE = "0af7651916cd43dd8448eb211c80319c"


def test_the_webhooks_trace_reaches_every_stages_logs(conn, db_url, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "coach-prod")
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        with pipeline(db_url, tmp_path) as p:
            user = create_user(conn)
            video = insert_video(conn, user, name="clip.mp4")
            clip = write_sample_video(tmp_path / "clip.mp4")
            p.storage.upload(RAW_BUCKET, f"{user}/clip.mp4", clip.read_bytes(), "video/mp4")
            complete_upload(conn, user, video)
            answer = p.clients["webhook"].post(
                "/",
                json={"videoRecordingId": video},
                headers={"X-Webhook-Secret": p.secret, "X-Cloud-Trace-Context": f"{TRACE}/1;o=1"},
            )
            assert answer.status_code == 202
            deliver_until_idle(p.bus, timeout=60)
    finally:
        logging.getLogger().removeHandler(handler)
    entries = [json.loads(line) for line in lines.getvalue().splitlines()]
    by_function = {}
    for entry in entries:
        if "function" in entry:
            by_function.setdefault(entry["function"], []).append(entry)
    assert set(by_function) >= {"webhook", "start_analysis", "ssml", "audio"}
    expected = f"projects/coach-prod/traces/{TRACE}"
    for function, logged in by_function.items():
        assert all(e.get("logging.googleapis.com/trace") == expected for e in logged), function
    stage_lines = [e for e in entries if e.get("function") == "audio" and "id" in e]
    assert stage_lines and all(e["severity"] in ("INFO", "WARNING") for e in stage_lines)
