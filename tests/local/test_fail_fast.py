"""What a new user or an operator meets when something is wrong, through the real commands:
one line naming the cause and what to do, within seconds, and no traceback. And local runs
that cannot step on each other: one webhook secret per checkout that the Vault stand-in
always holds, one database per checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from shared.local.database import checkout_database
from tests.conftest import drop_database
from tests.pg import with_database

CUECAST = [sys.executable, "-m", "shared.cli"]
PROJECT = Path(__file__).resolve().parents[2]


def _env(home: Path, **extra: str) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CUECAST_", "DATABASE", "GEMINI", "GOOGLE", "WEBHOOK"))
    }
    return environ | {"CUECAST_HOME": str(home / ".cuecast"), **extra}


def _run(
    args: list[str], home: Path, **extra: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [*CUECAST, *args],
        env=_env(home, **extra),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - started


def _one_line_failure(done: subprocess.CompletedProcess[str], command: str) -> str:
    """The one line a failed command ends with, on stderr, checked for the usual shape."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    said = [line for line in done.stderr.splitlines() if line.startswith("cuecast ")]
    assert len(said) == 1, done.stderr
    assert said[0] == done.stderr.strip().splitlines()[-1]
    assert said[0].startswith(f"cuecast {command}: "), said
    return said[0]


# Item 6: the database, migrations and settings.


def test_a_database_that_does_not_exist_is_named_with_the_servers_reason(pg_admin_url, tmp_path):
    url = with_database(pg_admin_url, "cuecast_no_such_database")
    done, took = _run(["status", "--database-url", url], tmp_path)
    line = _one_line_failure(done, "status")
    server = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    where = f"{server.get('host') or 'localhost'}:{server.get('port') or 5432}"
    assert f"cannot reach the database cuecast_no_such_database at {where}: " in line
    assert 'database "cuecast_no_such_database" does not exist' in line
    assert took < 5


def test_a_server_that_does_not_answer_fails_within_seconds(tmp_path):
    done, took = _run(
        ["status", "--database-url", "postgresql://postgres@127.0.0.1:1/app"], tmp_path
    )
    line = _one_line_failure(done, "status")
    assert "cannot reach the database app at 127.0.0.1:1: Connection refused" in line
    assert took < 5


def test_a_password_in_the_url_is_never_printed(tmp_path):
    url = "postgresql://app:hunter2-not-real@127.0.0.1:1/app"
    done, _ = _run(["status", "--database-url", url], tmp_path)
    assert "hunter2" not in _one_line_failure(done, "status")


def test_an_unmigrated_database_says_run_cuecast_migrate(empty_db, tmp_path):
    done, took = _run(["status", "--database-url", empty_db], tmp_path)
    line = _one_line_failure(done, "status")
    assert line.endswith("run cuecast migrate")
    assert "migration(s) pending, from 20250923120000_base_schema.sql" in line
    with psycopg.connect(empty_db) as conn:  # asking changed nothing
        assert conn.execute("select to_regnamespace('supabase_migrations')").fetchone() == (None,)
    assert took < 5


def test_migrate_on_plain_postgres_points_at_the_file_and_suggests_the_surface(empty_db, tmp_path):
    done, _ = _run(["migrate", "--database-url", empty_db], tmp_path)
    line = _one_line_failure(done, "migrate")
    assert "20250923120000_base_schema.sql:" in line
    assert 'schema "auth" does not exist' in line
    assert "--local-supabase" in line


def test_an_unknown_adapter_lists_the_valid_values(tmp_path):
    done, took = _run(["status"], tmp_path, CUECAST_STORAGE="s3")
    line = _one_line_failure(done, "status")
    assert line == "cuecast status: CUECAST_STORAGE='s3' is not one of: local, supabase"
    assert took < 5


def test_a_number_setting_that_is_not_a_number_is_named(tmp_path):
    done, _ = _run(["status"], tmp_path, CUECAST_MAX_ATTEMPTS="many")
    assert "CUECAST_MAX_ATTEMPTS='many'" in _one_line_failure(done, "status")


def test_upto_must_be_a_migration_version(tmp_path):
    done, _ = _run(["migrate", "--upto", "2025"], tmp_path)
    assert done.returncode == 2
    assert "'2025' is not a migration version: 14 digits" in done.stderr
    assert "Traceback" not in done.stderr


# Item 4: a missing provider setting or credential refuses the start.


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {"CUECAST_ANALYZER": "gemini"},
            "start_analysis cannot start: missing settings GEMINI_API_KEY",
        ),
        ({"CUECAST_SSML": "gemini"}, "ssml cannot start: missing settings GEMINI_API_KEY"),
        ({"CUECAST_TTS": "google"}, "audio cannot start: no Google Cloud credentials"),
        (
            {"CUECAST_STORAGE": "supabase"},
            "missing settings SUPABASE_SERVICE_ROLE_KEY, SUPABASE_URL",
        ),
    ],
)
def test_the_demo_refuses_to_start_without_a_provider_setting(empty_db, tmp_path, settings, named):
    done, took = _run(["demo"], tmp_path, DATABASE_URL=empty_db, **settings)
    assert named in _one_line_failure(done, "demo")
    assert took < 10
    with psycopg.connect(empty_db) as conn:  # refused before it migrated or uploaded
        assert conn.execute("select to_regclass('public.analysis_jobs')").fetchone() == (None,)


def test_the_worker_refuses_to_start_without_a_provider_setting(db_url, tmp_path):
    done, took = _run(
        ["worker", "--port", "1"], tmp_path, DATABASE_URL=db_url, CUECAST_TTS="google"
    )
    assert "audio cannot start: no Google Cloud credentials" in _one_line_failure(done, "worker")
    assert took < 10


def test_a_function_without_its_setting_fails_to_start_in_one_line(db_url, tmp_path):
    """The deployed shape: functions-framework loading main.py for one entry point."""
    command = [
        sys.executable, "-m", "functions_framework",
        "--target", "start_analysis", "--source", str(PROJECT / "main.py"), "--port", "1",
    ]  # fmt: skip
    env = _env(tmp_path, DATABASE_URL=db_url, CUECAST_ANALYZER="gemini", PYTHONPATH=str(PROJECT))
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert '"severity": "ERROR"' in lines[0]
    assert "start_analysis cannot start: missing settings GEMINI_API_KEY" in lines[0]
    assert time.monotonic() - started < 10


# Item 7: local runs are safe.


def _vault_secret(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select secret from vault.secrets where name = 'cuecast_webhook_secret'"
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_without_webhook_secret_the_checkouts_secret_is_used_everywhere(empty_db, tmp_path):
    done, _ = _run(["demo"], tmp_path, DATABASE_URL=empty_db)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = tmp_path / ".cuecast" / "webhook-secret"
    secret = kept.read_text().strip()
    assert len(secret) >= 32
    assert kept.stat().st_mode & 0o077 == 0  # owner-only
    assert secret not in done.stdout + done.stderr
    assert _vault_secret(empty_db) == secret
    # A later command with a secret of its own points the Vault stand-in at it: the trigger
    # and the webhook agree, whichever ran last.
    again, _ = _run(
        ["replay", "--stage", "start-analysis", "--status", "completed"],
        tmp_path,
        DATABASE_URL=empty_db,
        WEBHOOK_SECRET="another-local-secret-for-this-test",
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert _vault_secret(empty_db) == "another-local-secret-for-this-test"


def test_each_checkout_has_its_own_local_database(pg_admin_url, tmp_path):
    first, second = tmp_path / "one" / "cuecast", tmp_path / "two" / "cuecast"
    names = [checkout_database(home / ".cuecast") for home in (first, second)]
    assert names[0] != names[1]
    assert all(name.startswith("cuecast_cuecast_") for name in names)
    try:
        for home in (first, second):
            home.mkdir(parents=True)
            done, _ = _run(
                ["migrate", "--local-supabase"], home, CUECAST_LOCAL_DATABASE_URL=pg_admin_url
            )
            assert done.returncode == 0, done.stderr
        with psycopg.connect(with_database(pg_admin_url, names[1])) as conn:
            conn.execute("create table public.other_checkouts_work (id int)")
        done, _ = _run(["demo", "--fresh"], first, CUECAST_LOCAL_DATABASE_URL=pg_admin_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"database {names[0]}" in done.stdout
        with psycopg.connect(with_database(pg_admin_url, names[1])) as conn:
            kept = conn.execute("select to_regclass('public.other_checkouts_work')").fetchone()
        assert kept is not None and kept[0] is not None
    finally:
        for name in names:
            drop_database(pg_admin_url, name)
