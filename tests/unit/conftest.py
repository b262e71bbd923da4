"""Fixtures for the unit tests of the offline providers: one sample video per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.domain import Voice
from shared.sample_video import write_sample_video


@pytest.fixture(scope="session")
def sample_video_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 6-second sample MP4 (moving picture, spoken audio with pauses)."""
    return write_sample_video(tmp_path_factory.mktemp("video") / "sample.mp4")


@pytest.fixture
def voice() -> Voice:
    return Voice(name="en-US-Neural2-D", language="en-US", style="coach")
