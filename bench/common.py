"""What every benchmark shares: a scratch database, timing, tables and the JSON report.

Each script creates `cuecast_bench_<name>` on the test server (tests.pg.admin_url: the local
Postgres on 127.0.0.1:5432, `CUECAST_TEST_ADMIN_URL`, or the embedded one), migrates it with
the local Supabase surface, and drops it at the end. Tables print as Markdown, so a run's
output pastes into bench/README.md as it is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg

from shared import migrate
from tests.conftest import create_database as create_test_database
from tests.conftest import drop_database
from tests.pg import admin_url, with_database

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent


def database_name(name: str) -> str:
    return f"cuecast_bench_{name}"


def create_database(admin: str, name: str, template: str | None = None) -> None:
    """A new, empty database `name` (any left over from an interrupted run dropped first)."""
    drop_database(admin, name)
    create_test_database(admin, name, template)


@contextmanager
def scratch_database(name: str, *, migrated: bool = True, keep: bool = False) -> Iterator[str]:
    """A fresh database `cuecast_bench_<name>` (migrated with the local Supabase surface
    unless `migrated=False`), dropped on exit unless `keep`; yields its URL."""
    admin = admin_url()
    dbname = database_name(name)
    create_database(admin, dbname)
    url = with_database(admin, dbname)
    try:
        if migrated:
            migrate.install_local_supabase(url)
            migrate.migrate(url)
        yield url
    finally:
        if not keep:
            drop_database(admin, dbname)


@contextmanager
def clone_database(template_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """A copy of the database at `template_url` (nobody may be connected to it)."""
    admin = admin_url()
    dbname = database_name(name)
    create_database(admin, dbname, template=template_url.rsplit("/", 1)[1])
    try:
        yield with_database(admin, dbname)
    finally:
        if not keep:
            drop_database(admin, dbname)


def connect(url: str, *, prepared: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection; unprepared (as cuecast runs behind the pooler) by default."""
    return psycopg.connect(url, autocommit=True, prepare_threshold=5 if prepared else None)


# -- timing ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on the sorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50) if values else math.nan


class Stopwatch:
    """`with Stopwatch() as w: ...; w.seconds`"""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


# -- tables and reports --------------------------------------------------------------------


def fmt(value: object) -> str:
    """Numbers to three significant digits or so (0.058, 2.35, 12.4, 1,234)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        size = abs(value)
        digits = 3 if size < 1 else 2 if size < 10 else 1 if size < 100 else 0
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *row: object) -> None:
        if len(row) != len(self.columns):
            raise ValueError(f"{self.title}: {len(row)} cells for {len(self.columns)} columns")
        self.rows.append(list(row))

    def markdown(self) -> str:
        cells = [[fmt(c) for c in row] for row in self.rows]
        lines = [f"**{self.title}**", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        lines += [f"\n{note}" for note in self.notes]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        records = [dict(zip(self.columns, row, strict=True)) for row in self.rows]
        return {"title": self.title, "columns": self.columns, "rows": records, "notes": self.notes}


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], check=False, cwd=REPO, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(url: str | None = None) -> dict[str, Any]:
    """Where the run happened: CPU, memory, Postgres, load, versions, commit."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "python": platform.python_version(),
        "psycopg": _version("psycopg"),
        "procrastinate": _version("procrastinate"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),
    }
    if url:
        with connect(url) as conn:
            row = conn.execute(
                "select current_setting('server_version'), current_setting('shared_buffers'),"
                " current_setting('synchronous_commit'), current_setting('max_connections')"
            ).fetchone()
        assert row is not None
        info |= dict(
            zip(
                ("pg_version", "shared_buffers", "synchronous_commit", "max_connections"),
                row,
                strict=True,
            )
        )
    return info


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['nproc']} × {info['cpu_model']}, {info['memory_gb']} GB, "
        f"PostgreSQL {info.get('pg_version', '?')}, Python {info['python']}, "
        f"load average {info['loadavg'][0]} at start"
    )


@dataclass
class Report:
    """A benchmark's tables, with the machine and arguments, printed and written as JSON."""

    name: str
    args: argparse.Namespace
    url: str | None = None
    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.machine = machine(self.url)

    def table(self, title: str, columns: list[str]) -> Table:
        table = Table(title, columns)
        self.tables.append(table)
        return table

    def finish(self, *, quiet: bool = False) -> Path:
        self.machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        if not quiet:
            print(f"\n## bench.{self.name} — {machine_line(self.machine)}\n")
            for table in self.tables:
                print(table.markdown(), end="\n\n")
        payload = {
            "name": self.name,
            "when": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds"),
            "seconds": round(time.time() - self.started, 1),
            "args": vars(self.args),
            "machine": self.machine,
            "tables": [t.as_json() for t in self.tables],
            "data": self.data,
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.name}.json"
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
        return path


def parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The script's options; every script takes `--output` (the JSON's name in results/)."""
    made = argparse.ArgumentParser(
        prog=f"python -m bench.{name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    made.add_argument(
        "--output", default=name, help=f"write results/<OUTPUT>.json (default: {name})"
    )
    return made


def verdict(met: bool) -> str:
    return "met" if met else "missed"


class CpuMeter:
    """CPU seconds used during a run by this process (the client) and by the server
    backends connected to the database at `start()` (the server)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = 0.0
        self.server = 0.0
        self._procs: list[Any] = []
        self._start_client = 0.0
        self._start_server = 0.0

    @staticmethod
    def _cpu(proc: Any) -> float:
        try:
            times = proc.cpu_times()
        except Exception:  # a backend that went away: its time is lost, not fatal
            return 0.0
        return float(times.user + times.system)

    def start(self) -> None:
        import psutil

        with connect(self.url) as conn:
            pids = [
                int(pid)
                for (pid,) in conn.execute(
                    "select pid from pg_stat_activity"
                    " where datname = current_database() and pid <> pg_backend_pid()"
                ).fetchall()
            ]
        self._procs = []
        for pid in pids:
            try:
                self._procs.append(psutil.Process(pid))
            except psutil.Error:
                continue
        self._start_server = sum(self._cpu(p) for p in self._procs)
        self._start_client = time.process_time()

    def stop(self) -> None:
        self.client = time.process_time() - self._start_client
        self.server = sum(self._cpu(p) for p in self._procs) - self._start_server
