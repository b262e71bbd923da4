"""An installed cuecast (a wheel, not a checkout) carries its migrations and migrates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def test_an_installed_wheel_runs_cuecast_migrate(tmp_path, empty_db):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--target", str(target), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    installed = target / "shared" / "migrations"
    assert sorted(p.name for p in installed.glob("*.sql")) == sorted(
        p.name for p in (ROOT / "migrations").glob("*.sql")
    )
    env = {**os.environ, "PYTHONPATH": str(target)}  # the installed copy comes first
    where = subprocess.run(
        [sys.executable, "-c", "from shared import migrate; print(migrate.MIGRATIONS_DIR)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()) == installed.resolve()
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "migrate", "--local-supabase",
         "--database-url", empty_db],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{len(list(installed.glob('*.sql')))} migration(s) applied" in done.stdout
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("select to_regclass('public.audio_jobs')").fetchone() != (None,)
