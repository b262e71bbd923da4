"""The pipeline on the adopted database (tests/preplan after every migration): a new upload by
the app's user, with the app's own columns, goes to audio; an old item's edit regenerates
it. Everything runs as the hosted, non-superuser role."""

from __future__ import annotations

import math

import av
import psycopg
import pytest

from shared.ports import RAW_BUCKET
from shared.sample_video import write_sample_video
from tests.bus import deliver_until_idle
from tests.pipeline.harness import pipeline
from tests.supa import acting_as, set_webhook_secrets

A = "00000000-0000-0000-0000-0000000000a1"


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory):
    return write_sample_video(tmp_path_factory.mktemp("video") / "sample.mp4")


def _seconds(path) -> int:
    with av.open(str(path)) as container:
        return math.ceil(container.duration / av.time_base)


def test_a_new_upload_by_the_apps_user_reaches_audio(adopted_db, tmp_path, sample_video):
    with psycopg.connect(adopted_db, autocommit=True) as conn, pipeline(adopted_db, tmp_path) as p:
        set_webhook_secrets(conn, "http://webhook.local/", p.secret)
        path = f"{A}/lesson.mp4"
        p.storage.upload(RAW_BUCKET, path, sample_video.read_bytes(), "video/mp4")
        with acting_as(conn, "authenticated", A):
            video = conn.execute(
                "insert into video_recordings (user_id, filename, original_filename, file_size,"
                " duration_seconds, format, storage_path, upload_status, upload_progress)"
                " values (%s, 'lesson.mp4', 'Lesson 1.mp4', %s, %s, 'mp4', %s, 'uploading', 0)"
                " returning id",
                (A, sample_video.stat().st_size, _seconds(sample_video), path),
            ).fetchone()[0]
            conn.execute(
                "update video_recordings set upload_status = 'completed', upload_progress = 100"
                " where id = %s",
                (video,),
            )
        assert p.ring_webhooks(conn) == 1
        deliver_until_idle(p.bus, timeout=120)

        (job_id, status) = conn.execute(
            "select id, status from analysis_jobs where video_recording_id = %s", (video,)
        ).fetchone()
        assert status == "completed"
        items = conn.execute(
            "select f.ssml_status, f.audio_status, a.job_id from analysis_feedback f"
            " join analyses a on a.id = f.analysis_id where f.analysis_job_id = %s",
            (job_id,),
        ).fetchall()
        assert len(items) >= 3
        assert set(items) == {("completed", "completed", job_id)}
        with acting_as(conn, "authenticated", A):
            view = conn.execute(
                "select audio_ready, audio_segments from feedback_items_with_audio"
                " where analysis_job_id = %s order by item_index",
                (job_id,),
            ).fetchall()
        assert len(view) == len(items)
        for ready, segments in view:
            assert ready and segments
            for segment in segments:
                assert segment["audio_url"].startswith(f"{A}/{job_id}/")
                assert segment["audio_url"] in p.storage.list("processed", f"{A}/{job_id}")


def test_editing_an_old_items_message_regenerates_it(adopted_db, tmp_path):
    with (
        psycopg.connect(adopted_db, autocommit=True) as conn,
        pipeline(adopted_db, tmp_path, CUECAST_DOORBELL_GRACE_SECONDS=0) as p,
    ):
        set_webhook_secrets(conn, "http://127.0.0.1/webhook", p.secret)
        # 102 never had audio; 100 plays a pre-plan rendition
        for fid, message in ((102, "Pause, then swing."), (100, "Elbows in, always.")):
            conn.execute("update analysis_feedback set message = %s where id = %s", (message, fid))
        assert p.ring_webhooks(conn) == 2  # each edit rang its item's ssml doorbell
        deliver_until_idle(p.bus, timeout=120)

        rows = conn.execute(
            "select f.id, f.ssml_status, f.audio_status, s.ssml, a.audio_url"
            " from analysis_feedback f"
            " join analysis_ssml_segments s on s.feedback_id = f.id and s.segment_index = 0"
            " join analysis_audio_segments a on a.feedback_id = f.id and a.segment_index = 0"
            " where f.id in (100, 102) order by f.id"
        ).fetchall()
        assert [r[:3] for r in rows] == [(100, "completed", "completed"),
                                         (102, "completed", "completed")]  # fmt: skip
        assert "Elbows in, always." in rows[0][3] and "Pause, then swing." in rows[1][3]
        for fid, *_, url in rows:
            assert url.startswith(f"{A}/10/{fid}/")  # cuecast's own path, a new object
            assert url in p.storage.list("processed", f"{A}/10/{fid}")
        # the pre-plan rendition it replaced is still on record
        assert conn.execute(
            "select audio_url from cuecast.preplan_audio_segments where id = 1001"
        ).fetchone() == (f"{A}/10/100-b.mp3",)
