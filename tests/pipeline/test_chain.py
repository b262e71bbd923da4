"""The whole chain on a real short video: upload → job → feedback → SSML → audio."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from shared.ports import RAW_BUCKET
from shared.sample_video import write_sample_video
from tests.bus import deliver_until_idle
from tests.pipeline.harness import pipeline
from tests.supa import complete_upload, create_user, set_webhook_secrets


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory):
    return write_sample_video(tmp_path_factory.mktemp("video") / "sample.mp4")


def _decoded(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        chunks = [
            frame.to_ndarray().astype(np.float64).reshape(-1) for frame in container.decode(stream)
        ]
        return np.concatenate(chunks), stream.rate


def test_upload_to_audio_for_every_item(conn, db_url, tmp_path, sample_video):
    with pipeline(db_url, tmp_path) as p:
        set_webhook_secrets(conn, "http://webhook.local/", p.secret)
        user = create_user(conn)
        path = f"{user}/sample.mp4"
        p.storage.upload(RAW_BUCKET, path, sample_video.read_bytes(), "video/mp4")
        video = conn.execute(
            "insert into video_recordings (user_id, filename, storage_path, format, file_size)"
            " values (%s, 'sample.mp4', %s, 'mp4', %s) returning id",
            (user, path, sample_video.stat().st_size),
        ).fetchone()[0]
        complete_upload(conn, user, video)
        assert p.ring_webhooks(conn) == 1
        deliver_until_idle(p.bus, timeout=120)

        job = conn.execute(
            "select status, progress_percentage, attempts from analysis_jobs"
        ).fetchone()
        assert job == ("completed", 100, 1)
        items = conn.execute(
            "select id, ssml_status, audio_status from analysis_feedback order by item_index"
        ).fetchall()
        assert len(items) >= 3
        assert [(s, a) for _, s, a in items] == [("completed", "completed")] * len(items), (
            conn.execute("select feedback_id, status, last_error from ssml_jobs").fetchall(),
            conn.execute("select feedback_id, status, last_error from audio_jobs").fetchall(),
        )
        segments = conn.execute(
            "select feedback_id, audio_url, duration_ms, format from analysis_audio_segments"
        ).fetchall()
        assert {s[0] for s in segments} == {i[0] for i in items}
        for _, url, duration_ms, fmt in segments:
            assert fmt == "wav"
            with p.storage.open_read("processed", url) as f:
                samples, rate = _decoded(f.read())
            assert abs(len(samples) / rate * 1000 - duration_ms) <= 50
            assert np.sqrt(np.mean(samples**2)) > 100  # 16-bit PCM: clearly not silence
        assert p.bus.dead_letters == []
