"""An edit of a message, as the app makes it, through the local runtime at the production
cadence (doorbell grace and sweep 60 s, and no sweep at all here): the trigger that re-queues
the item rings it, so its new audio comes within seconds, one generation later."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import psycopg

from shared.bootstrap import App
from shared.local.runtime import LocalRuntime
from shared.sample_video import write_sample_video
from shared.settings import Settings
from tests.supa import acting_as, complete_upload, create_user, insert_video


def _wait(conn: psycopg.Connection, query: str, args: tuple, expected: object, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while (row := conn.execute(query, args).fetchone()) != expected:
        assert time.monotonic() < deadline, f"still {row}, waiting for {expected}"
        time.sleep(0.05)


def test_an_edit_gets_new_audio_within_seconds(conn, db_url, tmp_path: Path):
    settings = Settings(
        DATABASE_URL=db_url,
        CUECAST_HOME=str(tmp_path / ".cuecast"),
        WEBHOOK_SECRET=secrets.token_urlsafe(24),
        CUECAST_DOORBELL_GRACE_SECONDS=60,
    )
    app = App(settings)
    user = create_user(conn)
    video = insert_video(conn, user, name="clip.mp4")
    raw = Path(settings.storage_dir) / "raw" / str(user)
    raw.mkdir(parents=True)
    write_sample_video(raw / "clip.mp4")
    try:
        with LocalRuntime(app, workers=2):
            complete_upload(conn, user, video)
            done = "select count(*) > 0 and bool_and(audio_status = 'completed')"
            _wait(conn, f"{done} from analysis_feedback", (), (True,), 60)
            fid, before = conn.execute(
                "select f.id, a.generation from analysis_feedback f"
                " join audio_jobs a on a.feedback_id = f.id order by f.id limit 1"
            ).fetchone()
            edited = time.monotonic()
            with acting_as(conn, "service_role"):  # the app's backend edits items
                conn.execute(
                    "update analysis_feedback set message = 'Shoulders down, breathe out.'"
                    " where id = %s",
                    (fid,),
                )
            _wait(
                conn,
                "select a.status, a.generation from audio_jobs a where a.feedback_id = %s",
                (fid,),
                ("completed", before + 1),
                10,
            )
            took = time.monotonic() - edited
    finally:
        app.close()
    print(f"edit to new audio: {took:.2f} s")
    assert took < 5, took
    ssml = conn.execute(
        "select ssml from analysis_ssml_segments where feedback_id = %s", (fid,)
    ).fetchone()
    assert "Shoulders down" in ssml[0]
    assert conn.execute(
        "select generation from ssml_jobs where feedback_id = %s", (fid,)
    ).fetchone() == (2,)
