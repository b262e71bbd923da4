"""Every benchmark still runs against the code as it is (a query that gained a parameter once
broke bench.scale unnoticed until the next `make bench`). Tiny sizes: this checks that each
script runs to its table, not what it measures (bench/README.md has the measurements)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    "throughput": ["--items", "50", "--rounds", "1", "--concurrency", "1"],
    "limit": ["--items", "50", "--rounds", "1"],
    "roundtrips": ["--items", "20"],
    "scale": ["--sizes", "1000", "--queued", "200", "--rounds", "1", "--claims", "20",
              "--pairs", "30", "--passage", "200"],
    "memory": ["--large-mb", "5"],
    "audio": ["--repeat", "1"],
    "adoption": ["--videos", "200"],
    "reconcile": ["--items", "20", "--lag", "0.5", "--grace", "0.2", "--sweep", "0.2"],
    "coldstart": ["--runs", "1", "--only", "webhook", "audio"],
}  # fmt: skip


def test_every_benchmark_of_make_bench_is_here():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    bench = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert sorted(TINY) == sorted(
        line.split("-m bench.", 1)[1].split()[0]
        for line in bench.splitlines()
        if "-m bench." in line
    )


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_benchmark_runs_to_its_table(name):
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *TINY[name], "--output", f"test-{name}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "\n| " in done.stdout and f"wrote bench/results/test-{name}.json" in done.stdout
