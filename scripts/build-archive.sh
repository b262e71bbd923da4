#!/usr/bin/env bash
# Build the Cloud Functions source archive, build/cuecast-source.zip: main.py, functions/,
# shared/ (with shared/sql/*.sql) and, as its requirements.txt, requirements/functions.txt:
# the functions' dependencies pinned to the versions the tests ran against
# (scripts/lock_functions.py), so a deploy and a rollback install the same packages. Cloud
# Functions installs requirements.txt, not pyproject.toml.
#
# The zip is reproducible: entries sorted, fixed timestamps and permissions, no caches. The
# same tree gives the same bytes, so Terraform names the uploaded object by its SHA-256 and
# unchanged code deploys nothing (terraform/storage.tf).
#
# Usage: scripts/build-archive.sh [output.zip]     (prints the path and its SHA-256)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-build/cuecast-source.zip}
python=${PYTHON:-python3}
[ -x .venv/bin/python ] && python=.venv/bin/python

"$python" - "$out" <<'PY'
import hashlib
import os
import sys
import zipfile
from pathlib import Path

ROOTS = ("functions", "shared")
SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry

out = Path(sys.argv[1])
if not Path("main.py").is_file():
    sys.exit("build-archive: main.py is missing; every function's entry point lives there")

lock = Path("requirements/functions.txt")
if not lock.is_file():
    sys.exit("build-archive: requirements/functions.txt is missing (scripts/lock_functions.py)")
requirements = lock.read_text(encoding="utf-8")

files = {"main.py": Path("main.py").read_bytes(), "requirements.txt": requirements.encode()}
for root in ROOTS:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath, name)
            if name.startswith(".") or path.suffix in SKIP_SUFFIXES:
                continue
            files[path.as_posix()] = path.read_bytes()
if not any(name.startswith("shared/sql/") and name.endswith(".sql") for name in files):
    sys.exit("build-archive: shared/sql/*.sql not found; the queries ship with the code")

out.parent.mkdir(parents=True, exist_ok=True)
partial = out.with_name(out.name + ".partial")
with zipfile.ZipFile(partial, "w") as archive:
    for name in sorted(files):
        entry = zipfile.ZipInfo(name, date_time=EPOCH)
        entry.create_system = 3  # unix, whatever builds it
        entry.external_attr = 0o644 << 16
        entry.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(entry, files[name], compresslevel=9)
partial.replace(out)

digest = hashlib.sha256(out.read_bytes()).hexdigest()
print(f"{out} {len(files)} files sha256={digest}")
PY
