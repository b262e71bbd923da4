from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import pytest

from shared.adapters.espeak import EspeakSynthesizer
from shared.adapters.offline_analyzer import (
    MAX_ITEMS,
    OfflineAnalyzer,
    Signal,
    clock,
    feedback_items,
)
from shared.domain import Analysis, Voice
from shared.errors import PermanentError, UndecodableVideo
from shared.sample_video import FPS, HEIGHT, WIDTH, write_sample_video

CATEGORIES = {"pacing", "volume", "pauses", "movement", "framing"}


class CountingReader(io.RawIOBase):
    """A read-only, seekable file that records how much is asked for at a time."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.largest_read = 0
        self.total_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.largest_read = max(self.largest_read, len(chunk))
        self.total_read += len(chunk)
        return len(chunk)


class FailingReader(io.BytesIO):
    """Loses its connection part-way through the file."""

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() > 4096:
            raise ConnectionResetError("connection lost")
        return super().read(size)


def analyze(stream: BinaryIO, voice: Voice, size: int = 0) -> Analysis:
    return OfflineAnalyzer().analyze(stream, size=size, content_type="video/mp4", voice=voice)


def assert_valid(analysis: Analysis) -> None:
    assert analysis.provider == "offline-pyav"
    assert 3 <= len(analysis.items) <= MAX_ITEMS
    for item in analysis.items:
        assert item.problems(analysis.duration_seconds) == []
        assert item.category in CATEGORIES
        assert re.search(r"\d", item.message), "each message names what was measured"
    stamps = [item.timestamp_seconds for item in analysis.items]
    assert stamps == sorted(stamps)


def test_sample_video_gives_valid_varied_feedback(sample_video_path: Path, voice: Voice) -> None:
    with sample_video_path.open("rb") as stream:
        analysis = analyze(stream, voice, sample_video_path.stat().st_size)
    assert_valid(analysis)
    assert analysis.duration_seconds == pytest.approx(6.0, abs=0.1)
    categories = {item.category for item in analysis.items}
    assert {"pauses", "movement", "pacing"} <= categories
    pause = next(item for item in analysis.items if item.category == "pauses")
    assert re.match(r"You paused for \d\.\d seconds at 0:0\d — ", pause.message)


def test_same_video_gives_the_same_items(sample_video_path: Path, voice: Voice) -> None:
    data = sample_video_path.read_bytes()
    first = analyze(io.BytesIO(data), voice)
    assert analyze(io.BytesIO(data), voice) == first


def test_reads_the_stream_in_bounded_chunks(sample_video_path: Path, voice: Voice) -> None:
    reader = CountingReader(sample_video_path.read_bytes())
    assert_valid(analyze(io.BufferedReader(reader, 8192), voice))
    assert reader.total_read >= sample_video_path.stat().st_size
    assert reader.largest_read <= 64 * 1024


def test_video_without_audio_still_gets_motion_feedback(tmp_path: Path, voice: Voice) -> None:
    path = write_sample_video(tmp_path / "silent.mp4", seconds=4.0, with_audio=False)
    with path.open("rb") as stream:
        analysis = analyze(stream, voice)
    assert_valid(analysis)
    assert {item.category for item in analysis.items} <= {"movement", "framing"}
    assert any(item.category == "movement" for item in analysis.items)


def test_audio_only_file_gets_speech_feedback(voice: Voice) -> None:
    speech = EspeakSynthesizer().synthesize(
        '<speak>Hello there. <break time="1500ms"/> How are you today?</speak>', voice
    )
    analysis = analyze(io.BytesIO(speech.audio), voice)
    assert_valid(analysis)
    assert {item.category for item in analysis.items} == {"pacing", "volume", "pauses"}
    assert any("paused for 1." in item.message for item in analysis.items)


@pytest.mark.parametrize(
    "data", [b"", b"\x00" * 4096, b"this is not a video" * 200, b"\x00\x00\x00\x18ftypmp42" * 9]
)
def test_undecodable_input_is_a_permanent_error(data: bytes, voice: Voice) -> None:
    with pytest.raises(UndecodableVideo) as raised:
        analyze(io.BytesIO(data), voice)
    assert isinstance(raised.value, PermanentError)


def test_a_lost_connection_is_not_a_permanent_error(sample_video_path: Path, voice: Voice) -> None:
    with pytest.raises(ConnectionResetError):
        analyze(FailingReader(sample_video_path.read_bytes()), voice)


def test_sample_video_is_reproducible_and_decodable(tmp_path: Path) -> None:
    first = write_sample_video(tmp_path / "a.mp4", seconds=3.0)
    second = write_sample_video(tmp_path / "b.mp4", seconds=3.0)
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert hashlib.sha256(second.read_bytes()).hexdigest() == digest
    with av.open(str(first)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.width, video.height) == (WIDTH, HEIGHT)
        assert video.codec_context.name in {"h264", "mpeg4"}
        assert audio.codec_context.name == "aac"
        assert container.duration == pytest.approx(3_000_000, abs=100_000)
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 3 * FPS
    with av.open(str(first)) as container:
        samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    assert float(np.sqrt(np.mean(samples**2))) > 0.01  # speech, not silence


def signal(**changes: object) -> Signal:
    base: dict[str, object] = {
        "duration_seconds": 10.0,
        "audio_start_seconds": 0.0,
        "levels_dbfs": (),
        "sample_times": (),
        "motion": (),
        "brightness": (),
        "contrast": (),
        "column_activity": (),
    }
    base.update(changes)
    return Signal(**base)  # type: ignore[arg-type]


def test_a_long_pause_is_reported_with_its_length_and_time() -> None:
    levels = (-20.0,) * 20 + (-70.0,) * 30 + (-20.0,) * 50  # speech, 3 s silence, speech
    items = feedback_items(signal(levels_dbfs=levels))
    pause = next(item for item in items if item.category == "pauses")
    assert pause.message.startswith("You paused for 3.0 seconds at 0:02 — ")
    assert pause.timestamp_seconds == 2.0
    assert len(items) >= 3


def test_quiet_speech_is_told_to_project() -> None:
    levels = tuple(-38.0 + (i % 3) for i in range(100))
    volume = [
        item for item in feedback_items(signal(levels_dbfs=levels)) if item.category == "volume"
    ]
    assert "project" in volume[0].message
    assert volume[0].impact >= 0.7


def test_silent_audio_says_so() -> None:
    items = feedback_items(signal(levels_dbfs=(-100.0,) * 50))
    assert len(items) == 3
    assert any("No speech" in item.message for item in items)


def test_off_centre_movement_and_a_dark_picture_are_reported() -> None:
    times = tuple(n / 4 for n in range(12))
    motion = (0.0,) * 6 + (0.05,) * 5  # still for 1.5 s, then moving
    activity = tuple(10.0 if column < 16 else 0.0 for column in range(64))
    items = feedback_items(
        signal(
            sample_times=times,
            motion=motion,
            brightness=(0.1,) * 12,
            contrast=(0.2,) * 12,
            column_activity=activity,
        )
    )
    messages = " | ".join(item.message for item in items)
    assert "left side of the frame" in messages
    assert "held still from 0:00 to 0:01 (1.5 seconds)" in messages
    assert "brightness is 10%" in messages


def test_never_more_than_the_maximum_items() -> None:
    levels = ((-20.0,) * 10 + (-70.0,) * 10) * 10 + (-45.0,) * 10
    times = tuple(n / 4 for n in range(40))
    items = feedback_items(
        signal(
            levels_dbfs=levels,
            sample_times=times,
            motion=(0.0,) * 10 + (0.1,) * 29,
            brightness=(0.9,) * 40,
            contrast=(0.01,) * 40,
            column_activity=tuple(float(c) for c in range(64)),
        )
    )
    assert 3 <= len(items) <= MAX_ITEMS


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (7.9, "0:07"), (65, "1:05"), (3_723, "1:02:03")]
)
def test_clock(seconds: float, text: str) -> None:
    assert clock(seconds) == text
