"""`cuecast migrate`: order, bookkeeping as the Supabase CLI keeps it, idempotence, edits."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from shared import migrate
from shared.migrate import MIGRATIONS_DIR, MigrationError
from shared.sql_text import split_statements


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", "migrate", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_applies_everything_then_nothing(empty_db):
    first = _run_cli("--database-url", empty_db, "--local-supabase")
    assert first.returncode == 0, first.stderr
    files = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    lines = first.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("applied")] == files
    second = _run_cli("--database-url", empty_db)
    assert second.returncode == 0, second.stderr
    assert "database is up to date" in second.stdout
    assert "applied 2" not in second.stdout


def test_recorded_like_the_supabase_cli(empty_db):
    migrate.install_local_supabase(empty_db)
    migrate.migrate(empty_db)
    with psycopg.connect(empty_db) as conn:
        rows = conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations"
            " order by version"
        ).fetchall()
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'supabase_migrations' and table_name = 'schema_migrations'"
            " order by ordinal_position"
        ).fetchall()
    assert columns[0] == ("version", "text")
    assert ("statements", "ARRAY") in columns
    assert ("name", "text") in columns
    expected = [(m.version, m.name) for m in migrate.discover()]
    assert [(v, n) for v, n, _ in rows] == expected
    drop = next(s for v, n, s in rows if n == "drop_summary_audio")
    assert any("drop column if exists audio_url" in s for s in drop)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def test_edited_applied_file_is_refused(empty_db, tmp_path):
    directory = _copy(tmp_path)
    migrate.install_local_supabase(empty_db)
    migrate.migrate(empty_db, directory)
    path = directory / "20250924000001_drop_summary_audio.sql"
    path.write_text(path.read_text() + "\nselect 1;\n")
    with pytest.raises(MigrationError, match=r"20250924000001_drop_summary_audio\.sql was applied"):
        migrate.migrate(empty_db, directory)
    result = _run_cli("--database-url", empty_db, "--dir", str(directory))
    assert result.returncode == 1
    assert "has been edited since" in result.stderr


def test_comment_and_whitespace_edits_are_not_edits(empty_db, tmp_path):
    directory = _copy(tmp_path)
    migrate.install_local_supabase(empty_db)
    migrate.migrate(empty_db, directory)
    path = directory / "20250924000001_drop_summary_audio.sql"
    path.write_text("-- reworded comment\n\n" + path.read_text().replace(" ", "  "))
    assert migrate.migrate(empty_db, directory) == []


def test_failing_file_rolls_back_alone_and_is_named(empty_db, tmp_path):
    directory = _copy(tmp_path)
    (directory / "20991231000000_broken.sql").write_text(
        "create table public.half_done (id int);\nselect * from no_such_table;\n"
    )
    migrate.install_local_supabase(empty_db)
    result = _run_cli("--database-url", empty_db, "--dir", str(directory))
    assert result.returncode == 1
    assert (
        '20991231000000_broken.sql:2: relation "no_such_table" does not exist;'
        " the file was rolled back"
    ) in result.stderr
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("select to_regclass('public.half_done')").fetchone() == (None,)
        assert conn.execute("select to_regclass('public.audio_jobs')").fetchone() != (None,)
        versions = {
            v for (v,) in conn.execute("select version from supabase_migrations.schema_migrations")
        }
    assert "20991231000000" not in versions
    assert len(versions) == len(list(MIGRATIONS_DIR.glob("*.sql")))


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("-- one\n-- two\nselect 1;\n\nselect\n  1,\n  no_such_column;\n", 7),
        (
            "select 1;\n-- a block\ndo $block$\ndeclare\n  x int;\nbegin\n"
            "  x := 1;\n  perform * from no_such_table;\nend;\n$block$;\n",
            8,
        ),
        ("do $$ begin\n  raise exception 'boom';\nend $$;\n", 2),
    ],
)
def test_a_failure_names_the_line_in_the_file(empty_db, tmp_path, text, line):
    (tmp_path / "20991231000000_broken.sql").write_text(text)
    with pytest.raises(MigrationError) as failed:
        migrate.migrate(empty_db, tmp_path)
    assert str(failed.value).startswith(f"20991231000000_broken.sql:{line}: ")


def test_plain_postgres_is_told_about_the_local_surface(empty_db):
    with pytest.raises(MigrationError) as failed:
        migrate.migrate(empty_db)
    message = str(failed.value)
    base = (MIGRATIONS_DIR / "20250923120000_base_schema.sql").read_text().splitlines()
    # Postgres gives no position for this one: the line of the statement that failed
    line = next(i for i, text in enumerate(base, 1) if "table if not exists public.video" in text)
    assert message.startswith(f'20250923120000_base_schema.sql:{line}: schema "auth" does not')
    assert "cuecast migrate --local-supabase" in message


def test_bad_names_and_duplicate_versions_are_refused(tmp_path):
    (tmp_path / "20250101000000_a.sql").write_text("select 1;")
    (tmp_path / "20250101000000_b.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="duplicate migration versions: 20250101000000"):
        migrate.discover(tmp_path)
    (tmp_path / "20250101000000_b.sql").unlink()
    (tmp_path / "2025_short.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match=r"2025_short\.sql"):
        migrate.discover(tmp_path)


def test_versions_are_unique_14_digit_prefixes():
    found = migrate.discover()
    assert len({m.version for m in found}) == len(found)
    plan = [m.name for m in found if m.version.startswith("202509240000")]
    assert plan == [
        "drop_summary_audio",
        "create_ssml_segments",
        "refactor_audio_segments",
        "feedback_statuses",
        "create_ssml_jobs",
        "create_audio_jobs",
        "trigger_enqueue_ssml",
        "trigger_analysis_kickoff",
    ]


def test_split_statements_respects_quotes_comments_and_dollar_bodies():
    text = """
    -- a comment; with a semicolon
    create function f() returns text language sql as $$ select 'a;b' $$;
    /* block ; /* nested ; */ still comment */ select 'it''s;' as x;
    select E'\\';' ; do $tag$ begin perform 1; end $tag$;
    select "odd;name" from t
    """
    statements = split_statements(text)
    assert len(statements) == 5
    assert statements[0].endswith("$$ select 'a;b' $$;")
    assert "it''s;" in statements[1]
    assert statements[4].startswith('select "odd;name"')


def test_no_secret_or_url_in_any_migration():
    for path in MIGRATIONS_DIR.glob("*.sql"):
        text = path.read_text().lower()
        for needle in ("http://", "https://", "bearer ", "service_role_key", "eyj"):
            assert needle not in text, (path.name, needle)


def _busy_app(url: str) -> psycopg.Connection:
    """An app transaction holding a row of video_recordings (and so a lock that conflicts
    with the queue columns migration's)."""
    with psycopg.connect(url, autocommit=True) as setup:
        user = setup.execute("insert into auth.users default values returning id").fetchone()[0]
        setup.execute(
            "insert into video_recordings (user_id, filename, storage_path, format)"
            " values (%s, 'a.mp4', %s, 'mp4')",
            (user, f"{user}/a.mp4"),
        )
    app = psycopg.connect(url)
    app.execute("update video_recordings set upload_status = 'uploading'")
    return app  # its transaction stays open until the caller ends it


def test_a_file_that_loses_a_lock_to_the_app_is_run_again(empty_db):
    migrate.install_local_supabase(empty_db)
    migrate.migrate(empty_db, upto="20250924000008")
    app = _busy_app(empty_db)
    threading.Timer(1.0, app.commit).start()  # the app finishes during the first retry pause
    said: dict[str, list[str]] = {}
    migrate.migrate(
        empty_db, lock_timeout_s=0.3, on_applied=lambda m, s: said.setdefault(m.name, s)
    )
    app.close()
    (retry,) = [line for line in said["queue_columns"] if line.startswith("retry:")]
    assert retry.startswith("retry: 20250925000001_queue_columns.sql:")
    assert "waited 0.3 s for a lock that another session holds" in retry


def test_a_lock_the_app_never_lets_go_fails_clearly(empty_db):
    migrate.install_local_supabase(empty_db)
    migrate.migrate(empty_db, upto="20250924000008")
    app = _busy_app(empty_db)
    try:
        with pytest.raises(MigrationError) as failed:
            migrate.migrate(empty_db, lock_timeout_s=0.2)
    finally:
        app.close()
    assert "20250925000001_queue_columns.sql" in str(failed.value)
    assert "--lock-timeout" in str(failed.value)
    assert str(failed.value).endswith("(after 3 attempts)")
