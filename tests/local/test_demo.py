"""`cuecast demo`, the real command in a child process: from a fresh database to playable
audio for every feedback item; on the embedded server when nothing answers; non-zero with
the failing stage when the video is not a video."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import psycopg
import pytest

from shared.migrate import MIGRATIONS_DIR

CUECAST = [sys.executable, "-m", "shared.cli"]


def _run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CUECAST_", "DATABASE"))}
    environ |= {"CUECAST_HOME": str(home / ".cuecast"), **env}
    environ["CUECAST_STORAGE_DIR"] = str(home / ".cuecast" / "storage")
    return subprocess.run(
        [*CUECAST, *args],
        check=False,
        cwd=home,
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _audio_seconds(path: Path) -> tuple[float, float]:
    """(decoded length in seconds, peak amplitude) of one audio file."""
    with av.open(io.BytesIO(path.read_bytes())) as container:
        stream = container.streams.audio[0]
        samples = np.concatenate(
            [f.to_ndarray().astype(np.float64).reshape(-1) for f in container.decode(stream)]
        )
        return len(samples) / stream.rate, float(np.abs(samples).max())


def _check_every_item_has_audio(url: str, storage: Path) -> int:
    with psycopg.connect(url) as conn:
        items = conn.execute(
            "select f.id, f.ssml_status, f.audio_status, count(a.id)"
            " from analysis_feedback f left join analysis_audio_segments a on a.feedback_id = f.id"
            " group by f.id order by f.id"
        ).fetchall()
        segments = conn.execute(
            "select audio_url, duration_ms from analysis_audio_segments"
        ).fetchall()
    assert len(items) >= 3
    assert all(s == a == "completed" and n >= 1 for _, s, a, n in items), items
    for audio_url, duration_ms in segments:
        seconds, peak = _audio_seconds(storage / "processed" / audio_url)
        assert abs(seconds * 1000 - duration_ms) <= 50
        assert peak > 100  # int16 samples: speech, not silence
    return len(items)


def test_demo_from_a_fresh_database_to_playable_audio(empty_db, tmp_path):
    done = _run(["demo"], tmp_path, DATABASE_URL=empty_db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "database    DATABASE_URL" in done.stdout
    applied = len(list(MIGRATIONS_DIR.glob("*.sql")))
    assert f"migrations  {applied} applied" in done.stdout
    assert "demo completed" in done.stdout
    assert "audio done at" in done.stdout
    count = _check_every_item_has_audio(empty_db, tmp_path / ".cuecast" / "storage")
    assert f"{count} feedback items" in done.stdout
    log = (tmp_path / ".cuecast" / "logs" / "demo.jsonl").read_text().splitlines()
    assert any('"stage": "audio"' in line and '"severity": "INFO"' in line for line in log)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_falls_back_to_the_embedded_server(tmp_path):
    nothing = f"postgresql://postgres@127.0.0.1:{_free_port()}/postgres"
    done = _run(["demo"], tmp_path, CUECAST_LOCAL_DATABASE_URL=nothing)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "embedded pgserver" in done.stdout
    assert (tmp_path / ".cuecast" / "pgdata" / "PG_VERSION").exists()
    assert "demo completed" in done.stdout


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (os.urandom(50_000), "the file cannot be decoded (Invalid data found"),
        (b"", "the file is empty"),
    ],
)
def test_demo_fails_at_once_naming_the_file_when_the_video_is_not_a_video(
    empty_db, tmp_path, content, reason
):
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(content)
    started = time.monotonic()
    done = _run(["demo", str(bogus), "--timeout", "60"], tmp_path, DATABASE_URL=empty_db)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "demo failed: start-analysis failed: UndecodableVideo: raw/" in done.stdout
    assert f"/bogus.mp4: {reason}" in done.stdout
    assert time.monotonic() - started < 30  # permanent at once, not after redeliveries


def test_demo_times_out_naming_the_stage(empty_db, tmp_path):
    done = _run(
        ["demo", "--timeout", "0.01"],
        tmp_path,
        DATABASE_URL=empty_db,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "demo failed: timed out after 0.01 s in start-analysis" in done.stdout


def test_status_reads_what_the_demo_left(empty_db, tmp_path):
    assert _run(["demo"], tmp_path, DATABASE_URL=empty_db).returncode == 0
    done = _run(["status", "--job", "1"], tmp_path, DATABASE_URL=empty_db)
    assert done.returncode == 0, done.stderr
    assert "analysis job 1: completed (100%)" in done.stdout
    assert ".cuecast/storage/processed/" in done.stdout


def test_demo_adopts_the_apps_database_and_runs_on_it(preplan_db, tmp_path):
    """On the app's pre-plan database (as its non-superuser role): the demo migrates it and
    its upload, with the app's required columns, reaches audio beside the historic rows."""
    done = _run(["demo"], tmp_path, DATABASE_URL=preplan_db)
    assert done.returncode == 0, done.stdout + done.stderr
    applied = len(list(MIGRATIONS_DIR.glob("*.sql")))
    assert f"migrations  {applied} applied" in done.stdout
    assert "demo completed" in done.stdout
    with psycopg.connect(preplan_db) as conn:
        (job_id, seconds) = conn.execute(
            "select j.id, v.duration_seconds from analysis_jobs j"
            " join video_recordings v on v.id = j.video_recording_id order by j.id desc limit 1"
        ).fetchone()
        statuses = conn.execute(
            "select ssml_status, audio_status from analysis_feedback where analysis_job_id = %s",
            (job_id,),
        ).fetchall()
        historic = conn.execute(
            "select count(*) from analysis_feedback where analysis_job_id < %s", (job_id,)
        ).fetchone()
    assert 1 <= seconds <= 60
    assert len(statuses) >= 3 and set(statuses) == {("completed", "completed")}
    assert historic == (10,)
