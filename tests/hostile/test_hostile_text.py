"""Hostile feedback messages through the real ssml and audio entry points (builder, eSpeak).

Each message ends one of three ways, and the test says which: spoken (valid SSML that keeps
the words as text, every segment within the TTS limit, one WAV per segment, both statuses
completed at the first attempt), blank (nothing speakable: `skipped`, never queued), or
refused by Postgres before it is stored (NUL, lone surrogates). Never a crash, never a
second attempt.
"""

from __future__ import annotations

import itertools
import wave
from collections.abc import Iterator

import psycopg
import pytest
from defusedxml import ElementTree as SafeElementTree

from shared.adapters.ssml_builder import SSML_BUILDER_TAGS, check_ssml, clean_text
from shared.domain import TTS_INPUT_LIMIT_BYTES, Analysis, FeedbackItem, Speech
from shared.services.audio import AudioStage
from shared.services.runner import run
from tests.db.helpers import add_feedback, analysis_job, statuses
from tests.hostile.deliveries import b64_json, post, pubsub_message, structured
from tests.hostile.hostile_messages import BLANK, LARGE_SPOKEN, REFUSED, SPOKEN, SSML_ONLY
from tests.pipeline.harness import pipeline
from tests.supa import create_user, insert_video

ALL = {**SPOKEN, **LARGE_SPOKEN, **SSML_ONLY, **BLANK, **REFUSED}


@pytest.fixture(scope="module")
def stages(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """One analysis job whose items are the messages; the pipeline's entry points."""
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        _, _, job_id = analysis_job(conn)
        with pipeline(module_db_url, tmp_path_factory.mktemp("text")) as p:
            yield conn, p, job_id, itertools.count()


def _ring(p, function: str, key: int, field: str = "feedback_id") -> None:
    response = post(p.clients[function], structured(pubsub_message(b64_json({field: key}))))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


def _job(conn, table: str, feedback_id: int) -> tuple | None:
    return conn.execute(
        f"select status, attempts, last_error from {table} where feedback_id = %s",
        (feedback_id,),
    ).fetchone()


def _check_ssml(conn, feedback_id: int, message: str) -> list[str]:
    """Every segment parses safely, uses only the builder's tags, fits the limit; the text
    content is the message's words, in order."""
    documents = [
        ssml
        for (ssml,) in conn.execute(
            "select ssml from analysis_ssml_segments where feedback_id = %s order by segment_index",
            (feedback_id,),
        )
    ]
    spoken = []
    for ssml in documents:
        assert len(ssml.encode("utf-8")) <= TTS_INPUT_LIMIT_BYTES
        assert check_ssml(ssml) == []
        root = SafeElementTree.fromstring(
            ssml, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        assert {element.tag for element in root.iter()} <= SSML_BUILDER_TAGS
        spoken += ["".join(s.itertext()) for s in root.iter("s")]
    assert "".join(spoken).replace(" ", "") == clean_text(message).replace(" ", "")
    return documents


def _check_audio(p, conn, feedback_id: int, segments: int) -> None:
    rows = conn.execute(
        "select segment_index, audio_url, duration_ms from analysis_audio_segments"
        " where feedback_id = %s order by segment_index",
        (feedback_id,),
    ).fetchall()
    assert [index for index, _, _ in rows] == list(range(segments))
    for _, url, duration_ms in rows:
        with p.storage.open_read("processed", url) as stream, wave.open(stream) as wav:
            assert abs(wav.getnframes() * 1000 / wav.getframerate() - duration_ms) <= 1
        assert duration_ms > 0


def _through_ssml(stages, message: str) -> tuple[int, list[str]]:
    conn, p, job_id, counter = stages
    feedback_id = add_feedback(conn, job_id, next(counter), message)
    _ring(p, "ssml", feedback_id)
    assert _job(conn, "ssml_jobs", feedback_id)[:2] == ("completed", 1)
    return feedback_id, _check_ssml(conn, feedback_id, message)


@pytest.mark.parametrize("name", list(SPOKEN) + list(LARGE_SPOKEN))
def test_spoken_through_ssml_and_audio(stages, name):
    conn, p, _, _ = stages
    message = SPOKEN.get(name) or LARGE_SPOKEN[name]
    feedback_id, documents = _through_ssml(stages, message)
    assert len(documents) > 1 or name in SPOKEN
    _ring(p, "audio", feedback_id)
    status, attempts, error = _job(conn, "audio_jobs", feedback_id)
    assert (status, attempts) == ("completed", 1), error
    _check_audio(p, conn, feedback_id, len(documents))
    assert statuses(conn, feedback_id) == ("completed", "completed")


@pytest.mark.parametrize("name", list(SSML_ONLY))
def test_large_text_through_ssml(stages, name):
    feedback_id, documents = _through_ssml(stages, SSML_ONLY[name])
    assert len(documents) > 1
    assert _job(stages[0], "audio_jobs", feedback_id)[:2] == ("queued", 0)


@pytest.mark.parametrize("name", list(BLANK))
def test_blank_is_skipped_and_never_queued(stages, name):
    conn, p, job_id, counter = stages
    feedback_id = add_feedback(conn, job_id, next(counter), BLANK[name])
    assert statuses(conn, feedback_id) == ("skipped", "skipped")
    assert _job(conn, "ssml_jobs", feedback_id) is None
    _ring(p, "ssml", feedback_id)  # a stray doorbell finds no job: acknowledged
    assert _job(conn, "ssml_jobs", feedback_id) is None


@pytest.mark.parametrize("name", list(REFUSED))
def test_postgres_refuses_text_it_cannot_store(stages, name):
    conn, _, job_id, counter = stages
    message, error, match = REFUSED[name]
    before = conn.execute("select count(*) from analysis_feedback").fetchone()
    with pytest.raises(error, match=match):
        add_feedback(conn, job_id, next(counter), message)
    assert conn.execute("select count(*) from analysis_feedback").fetchone() == before


def test_the_database_and_the_builder_agree_on_blank(stages):
    """Every code point Postgres can store, alone: blank to one exactly when to the other."""
    rows = (
        stages[0]
        .execute(
            "select c from generate_series(1, 1114111) as c"
            " where c not between 55296 and 57343 and cuecast.is_blank(chr(c)) order by c"
        )
        .fetchall()
    )
    code_points = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert [c for (c,) in rows] == [c for c in code_points if not clean_text(chr(c))]


class TrackedAudio(bytes):
    """Audio bytes that count how many of them are alive."""

    alive = 0

    def __new__(cls, data: bytes) -> TrackedAudio:
        cls.alive += 1
        return super().__new__(cls, data)

    def __del__(self) -> None:
        type(self).alive -= 1


class TrackingSynthesizer:
    """A fake SpeechSynthesizer port whose audio can be counted while it is held."""

    max_concurrency = 1

    def synthesize(self, ssml, voice):
        return Speech(TrackedAudio(b"\0" * 4096), "wav", "audio/wav", 10, "fake", "1")


class RecordingStorage:
    """A fake Storage port: records how much audio is alive at every upload."""

    def __init__(self) -> None:
        self.alive_at_upload: list[int] = []

    def upload(self, bucket, path, data, content_type):
        self.alive_at_upload.append(TrackedAudio.alive)

    def list(self, bucket, prefix):
        return []

    def delete(self, bucket, paths):
        pass


def test_a_long_item_s_audio_is_never_held_whole(stages):
    """68 segments: each one's audio is let go once uploaded."""
    p = stages[1]
    feedback_id, documents = _through_ssml(stages, SSML_ONLY["100 KB of sentences"])
    storage = RecordingStorage()
    stage = AudioStage(
        storage=storage, synthesizer=TrackingSynthesizer(), default_voice=p.app.settings.voice()
    )
    assert run(p.app.database, stage, feedback_id, p.app.policy) == "completed"
    assert len(storage.alive_at_upload) == len(documents) > 50
    assert max(storage.alive_at_upload) == 1


class UnstorableAnalyzer:
    """A fake Analyzer port whose model wrote characters Postgres text cannot hold."""

    def analyze(self, video, *, size, content_type, voice):
        items = (
            FeedbackItem(0.5, "pac\x00ing", "Slow\x00 down a little.", 0.9, 0.6),
            FeedbackItem(1.0, "pauses", "Breathe \ud83d here.", 0.8, 0.5),
            FeedbackItem(1.5, "pauses", "\x00\udc00", 0.8, 0.5),  # nothing left: dropped
        )
        return Analysis(duration_seconds=3.0, items=items, provider="fake")


def test_an_analyzer_s_unstorable_characters_are_dropped_not_fatal(conn, db_url, tmp_path):
    with pipeline(db_url, tmp_path) as p:
        p.app.analyzer = UnstorableAnalyzer()
        video = insert_video(conn, create_user(conn), upload_status="completed")
        row = conn.execute("select storage_path from video_recordings where id = %s", (video,))
        p.storage.upload("raw", row.fetchone()[0], b"not really a video", "video/mp4")
        (job_id,) = conn.execute("select id from analysis_jobs").fetchone()
        _ring(p, "start_analysis", job_id, field="analysis_job_id")
    assert conn.execute("select status, attempts from analysis_jobs").fetchone() == ("completed", 1)
    stored = conn.execute("select category, message from analysis_feedback order by item_index")
    assert stored.fetchall() == [("pacing", "Slow down a little."), ("pauses", "Breathe  here.")]


def test_case_counts():
    assert len(ALL) >= 50
