"""The source archive Terraform deploys: its requirements are the lock, the lock is what the
tests ran against, and the functions start with nothing of the local run installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.adapters.servers import make_mp3
from tests.contract.cloud_run import production_env

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "functions.txt"
LOCAL_ONLY = ("av", "numpy", "rich", "espeakng-loader", "pgserver")

# Run in a child: the local run's packages cannot be imported, as on Cloud Run.
START_LIKE_CLOUD_RUN = """
import importlib.abc, sys
BLOCKED = {"av", "numpy", "rich", "espeakng_loader", "pgserver"}
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not in the archive")
sys.meta_path.insert(0, Absent())
import main  # every entry point
from shared.bootstrap import App
from shared.adapters.google_tts import mp3_duration_ms
App().check()  # every function: settings required, providers built
print(mp3_duration_ms(open(sys.argv[1], "rb").read()))
print(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
"""


def test_the_lock_is_what_the_tests_run_against():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock_functions.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_archive_ships_the_lock_and_nothing_of_the_local_run(tmp_path):
    archive = tmp_path / "source.zip"
    subprocess.run(["bash", str(ROOT / "scripts" / "build-archive.sh"), str(archive)],
                   cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    with zipfile.ZipFile(archive) as zipped:
        requirements = zipped.read("requirements.txt").decode()
        names = zipped.namelist()
    assert requirements == LOCK.read_text(encoding="utf-8")
    pins = [line.split("==")[0] for line in requirements.splitlines() if "==" in line]
    assert pins and all("==" in line for line in requirements.splitlines() if line[:1].isalpha())
    assert not set(pins) & set(LOCAL_ONLY)
    assert "main.py" in names and "shared/sql/queries.sql" in names


def test_the_functions_start_without_the_local_packages(tmp_path, db_url):
    mp3 = tmp_path / "tone.mp3"
    mp3.write_bytes(make_mp3(seconds=2.0))
    env = production_env(db_url)
    done = subprocess.run(
        [sys.executable, "-c", START_LIKE_CLOUD_RUN, str(mp3)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    duration, loaded = done.stdout.splitlines()
    assert 2000 <= int(duration) <= 2080
    assert loaded == "[]"
