"""Fixtures: the local protocol servers of tests/adapters/servers.py, one per test.

Each HTTP fake must end its test without an error of its own (`.errors`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.adapters.servers import FakeGemini, FakePubSub, FakeSupabaseStorage, FakeTextToSpeech


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def fake_tts() -> Iterator[FakeTextToSpeech]:
    with FakeTextToSpeech() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def service_key() -> str:
    """An obviously fake service-role key, new for every test."""
    return f"fake-service-role-{secrets.token_hex(16)}"


@pytest.fixture
def fake_supabase(service_key: str) -> Iterator[FakeSupabaseStorage]:
    with FakeSupabaseStorage(service_key) as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def fake_pubsub() -> Iterator[FakePubSub]:
    with FakePubSub() as fake:
        yield fake
