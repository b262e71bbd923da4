"""Settings read the environment, take keyword arguments over it, and refuse a wrong value
in one line that names the variable."""

from __future__ import annotations

import pytest

from shared.errors import ConfigurationError
from shared.settings import Secret, Settings, field, fields, load


@pytest.fixture(autouse=True)
def _no_cuecast_environment(monkeypatch):
    for name in [f.variable for f in fields()]:
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_run_everything_offline():
    s = Settings()
    assert (s.storage, s.publisher, s.analyzer, s.ssml_writer, s.tts) == (
        "local", "local", "offline", "builder", "espeak"
    )  # fmt: skip
    assert s.database_url is None and s.max_attempts == 5 and s.backoff_cap_seconds == 300.0


def test_the_environment_is_read_in_any_case_and_converted(monkeypatch):
    monkeypatch.setenv("cuecast_max_attempts", "7")
    monkeypatch.setenv("CUECAST_BACKOFF_BASE_SECONDS", "0.5")
    monkeypatch.setenv("CUECAST_STORAGE", "supabase")
    s = Settings()
    assert (s.max_attempts, s.backoff_base_seconds, s.storage) == (7, 0.5, "supabase")


def test_keyword_arguments_win_by_field_or_variable_name(monkeypatch):
    monkeypatch.setenv("CUECAST_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("CUECAST_LEASE_SECONDS", "30")
    s = Settings(max_attempts=3, CUECAST_LEASE_SECONDS="60", unrelated="ignored")
    assert (s.max_attempts, s.lease_seconds) == (3, 60)


def test_from_values_reads_no_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    s = Settings.from_values({"CUECAST_PUBLISHER": "pubsub"})
    assert s.database_url is None and s.publisher == "pubsub"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("CUECAST_STORAGE", "s3", "CUECAST_STORAGE='s3' is not one of: local, supabase"),
        ("CUECAST_MAX_ATTEMPTS", "many", "CUECAST_MAX_ATTEMPTS='many': expected a whole number"),
        ("CUECAST_MAX_ATTEMPTS", "2.5", "CUECAST_MAX_ATTEMPTS='2.5': expected a whole number"),
        ("CUECAST_MAX_ATTEMPTS", "0", "CUECAST_MAX_ATTEMPTS='0': must be at least 1"),
        ("CUECAST_MAX_ATTEMPTS", "101", "CUECAST_MAX_ATTEMPTS='101': must be at most 100"),
        ("CUECAST_BACKOFF_BASE_SECONDS", "0",
         "CUECAST_BACKOFF_BASE_SECONDS='0': must be more than 0"),
        ("CUECAST_BACKOFF_CAP_SECONDS", "soon",
         "CUECAST_BACKOFF_CAP_SECONDS='soon': expected a number"),
    ],
)  # fmt: skip
def test_a_wrong_value_is_named_with_what_it_may_be(monkeypatch, variable, value, said):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load()
    assert str(caught.value) == said


def test_every_wrong_value_is_named_at_once(monkeypatch):
    monkeypatch.setenv("CUECAST_TTS", "polly")
    monkeypatch.setenv("CUECAST_LEASE_SECONDS", "-1")
    with pytest.raises(ConfigurationError, match=r"^CUECAST_TTS=.*; CUECAST_LEASE_SECONDS="):
        load()


def test_a_boolean_is_not_a_number():
    with pytest.raises(ConfigurationError, match="expected a whole number"):
        Settings(max_attempts=True)


def test_a_secret_never_shows_and_a_blank_one_is_missing(monkeypatch):
    monkeypatch.setenv("WEBHOOK_SECRET", "hunter2-very-secret")
    s = Settings(GEMINI_API_KEY="   ")
    assert isinstance(s.webhook_secret, Secret)
    assert s.webhook_secret.get_secret_value() == "hunter2-very-secret"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.webhook_secret)
    assert s.gemini_api_key is None
    with pytest.raises(ConfigurationError, match="missing settings GEMINI_API_KEY"):
        s.require("gemini_api_key", "webhook_secret", who="ssml")


def test_copy_replaces_fields_and_leaves_the_original():
    s = Settings()
    changed = s.copy(database_url="postgresql://x/y")
    assert changed.database_url == "postgresql://x/y" and s.database_url is None
    assert changed.max_attempts == s.max_attempts


def test_each_field_knows_its_variable_and_kind():
    assert field("webhook_secret").secret and not field("database_url").secret
    assert field("storage").choices == ("local", "supabase")
    assert Settings.env_names(["gcp_project", "topic_ssml"]) == [
        "GOOGLE_CLOUD_PROJECT", "CUECAST_TOPIC_SSML"
    ]  # fmt: skip
