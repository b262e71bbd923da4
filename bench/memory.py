"""Peak RSS of start-analysis on a 1 GB video against a 10 MB one, with the Gemini analyzer
uploading (google-genai, Files API resumable upload) to the local FakeGemini server of
tests/adapters/servers.py, the video read from local storage (a sparse file: no disk is
written) and from FakeSupabaseStorage (a generated body, HTTP Range reads).

Each run is a fresh child process running the start_analysis entry point on one job; its
peak RSS comes from os.wait4 (the kernel's ru_maxrss for that child alone). The fake
servers run in this process, so their memory is not counted; the Gemini fake keeps only a
byte count of the upload, not the bytes. A baseline child builds the same App and loads the
same modules without analysing anything. Target: 1 GB peak ≤ 1.2 x the 10 MB peak.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench.common import Report, verdict
from tests.adapters.servers import FakeGemini, FakeSupabaseStorage, json_reply

NAME = "memory"
MB = 1 << 20
ITEMS = {
    "items": [
        {
            "timestamp_seconds": 2,
            "category": "posture",
            "message": "Stand tall.",
            "confidence": 0.9,
            "impact": 0.6,
        },
        {
            "timestamp_seconds": 7,
            "category": "technique",
            "message": "Keep your elbows in.",
            "confidence": 0.8,
            "impact": 0.7,
        },
    ]
}


class _ByteCount:
    """Stands in for a GeminiFile's bytearray: counts what was uploaded, keeps nothing."""

    def __init__(self) -> None:
        self.size = 0

    def __iadd__(self, data: bytes) -> _ByteCount:
        self.size += len(data)
        return self

    def __len__(self) -> int:
        return self.size


class _Files(dict[str, Any]):
    def __setitem__(self, key: str, file: Any) -> None:
        file.data = _ByteCount()
        super().__setitem__(key, file)


class CountingGemini(FakeGemini):
    """FakeGemini that does not hold uploaded videos in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.files = _Files()


# -- the child -----------------------------------------------------------------------------


def child(job_id: int | None) -> None:
    """Run start_analysis on `job_id` (None: only build the App) with settings from the
    environment; print one JSON line."""
    import main as entry_points
    from bench.harness import cloud_event
    from shared import bootstrap
    from shared.bootstrap import App
    from shared.domain import Stage
    from shared.messages import encode

    logging.getLogger().setLevel(logging.WARNING)
    app = App()
    bootstrap.install(app)
    app.check("start_analysis")
    _ = app.analyzer, app.storage, app.pool  # built (and imported) in every run alike
    start = time.perf_counter()
    if job_id is not None:
        topic = app.settings.topic(Stage.ANALYSIS)
        data = json.dumps(encode(Stage.ANALYSIS, job_id)).encode()
        entry_points.start_analysis(cloud_event(topic, data))
    seconds = time.perf_counter() - start
    app.close()
    print(json.dumps({"seconds": seconds}))


def run_child(env: dict[str, str], job_id: int | None) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one child run."""
    argv = [sys.executable, "-m", "bench.memory", "--child"]
    if job_id is not None:
        argv += ["--job-id", str(job_id)]
    proc = subprocess.Popen(
        argv, env={**os.environ, **env}, stdout=subprocess.PIPE, cwd=common.REPO
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {output[-2000:]!r}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    return usage.ru_maxrss / 1024, float(result["seconds"])  # ru_maxrss is in KiB on Linux


# -- the parent ----------------------------------------------------------------------------


def _new_job(url: str, user: uuid.UUID, path: str, size: int) -> int:
    with common.connect(url) as conn:
        video = conn.execute(
            "insert into public.video_recordings"
            " (user_id, filename, storage_path, format, file_size, upload_status)"
            " values (%s, %s, %s, 'mp4', %s, 'completed') returning id",
            (user, path.rsplit("/", 1)[1], path, size),
        ).fetchone()
        assert video is not None
        job = conn.execute(
            "select id from public.analysis_jobs where video_recording_id = %s", (video[0],)
        ).fetchone()
    assert job is not None
    return int(job[0])


def _job_status(url: str, job_id: int) -> str:
    with common.connect(url) as conn:
        row = conn.execute(
            "select status from public.analysis_jobs where id = %s", (job_id,)
        ).fetchone()
    return str(row[0]) if row else "missing"


@dataclass
class Bench:
    """The scratch database, the fake servers and where the local videos live."""

    url: str
    tmp: str
    gemini: CountingGemini
    supabase: FakeSupabaseStorage
    key: str
    user: uuid.UUID = field(default_factory=uuid.uuid4)

    def env(self, source: str) -> dict[str, str]:
        env = {
            "DATABASE_URL": self.url,
            "CUECAST_ANALYZER": "gemini",
            "GEMINI_API_KEY": "bench-key",
            "CUECAST_GEMINI_BASE_URL": self.gemini.url,
            "CUECAST_LOG_LEVEL": "WARNING",
            "CUECAST_STORAGE": source,
            "CUECAST_STORAGE_DIR": self.tmp,
        }
        if source == "supabase":
            env |= {"SUPABASE_URL": self.supabase.url, "SUPABASE_SERVICE_ROLE_KEY": self.key}
        return env

    def put_video(self, source: str, path: str, size: int) -> None:
        if source == "local":
            video = Path(self.tmp) / "raw" / path
            video.parent.mkdir(parents=True, exist_ok=True)
            with video.open("wb") as f:
                f.truncate(size)  # sparse: reads as zeros, takes no disk
        else:
            self.supabase.put_generated("raw", path, size)

    def analyse(self, source: str, label: str, size: int) -> tuple[float, float]:
        """One child run of start-analysis on a new video: (peak RSS MiB, seconds)."""
        path = f"{self.user}/{label}-{source}-{uuid.uuid4().hex[:8]}.mp4"
        self.put_video(source, path, size)
        job = _new_job(self.url, self.user, path, size)
        self.gemini.replies.append(json_reply(ITEMS))
        peak, seconds = run_child(self.env(source), job)
        status = _job_status(self.url, job)
        if status != "completed":
            raise RuntimeError(f"{source} {label}: job {job} is {status}")
        uploaded = max(len(f.data) for f in self.gemini.files.values())
        if uploaded < size:
            raise RuntimeError(f"Gemini received {uploaded} of {size} bytes")
        return peak, seconds


def main(argv: list[str] | None = None) -> None:
    parser = common.parser(NAME, __doc__)
    parser.add_argument("--small-mb", type=int, default=10, help="the small video, MiB")
    parser.add_argument("--large-mb", type=int, default=1024, help="the large video, MiB")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case")
    parser.add_argument("--child", action="store_true", help=argparse_hidden())
    parser.add_argument("--job-id", type=int, help=argparse_hidden())
    args = parser.parse_args(argv)
    if args.child:
        child(args.job_id)
        return

    key = secrets.token_urlsafe(24)
    with (
        common.scratch_database(NAME) as url,
        tempfile.TemporaryDirectory(prefix="cuecast-bench-memory-") as tmp,
        CountingGemini() as gemini,
        FakeSupabaseStorage(key) as supabase,
    ):
        report = Report(args.output, args, url)
        bench = Bench(url, tmp, gemini, supabase, key)
        with common.connect(url) as conn:
            conn.execute(
                "insert into auth.users (id, email) values (%s, 'm@bench.test')", (bench.user,)
            )
        table = report.table(
            f"start-analysis peak RSS (MiB), {args.small_mb} MiB vs {args.large_mb:,} MiB video"
            f" (max of {args.repeat})",
            [
                "storage",
                "baseline (no video)",
                f"{args.small_mb} MiB",
                f"{args.large_mb:,} MiB",
                "large / small",
                "large: MiB/s through",
                "target ≤ 1.2×",
            ],
        )
        sizes = {"small": args.small_mb * MB, "large": args.large_mb * MB}
        for source in ("local", "supabase"):
            baseline, _ = run_child(bench.env(source), None)
            peaks: dict[str, float] = {}
            speed = 0.0
            for label, size in sizes.items():
                runs = [bench.analyse(source, label, size) for _ in range(args.repeat)]
                peaks[label] = max(peak for peak, _ in runs)
                speed = size / MB / min(seconds for _, seconds in runs)
                for peak, seconds in runs:
                    report.data.setdefault("runs", []).append(
                        {
                            "storage": source,
                            "video_mib": size / MB,
                            "peak_rss_mib": round(peak, 1),
                            "seconds": round(seconds, 2),
                            "baseline_mib": round(baseline, 1),
                        }
                    )
                    print(f"{source:<8} {label:<5} peak {peak:7.1f} MiB  {seconds:6.2f} s")
            ratio = peaks["large"] / peaks["small"]
            table.add(
                source,
                baseline,
                peaks["small"],
                peaks["large"],
                f"{ratio:.3f}×",
                speed,
                verdict(ratio <= 1.2),
            )
        table.notes.append(
            "Peak RSS of the whole child process (interpreter, SDKs, pool) from os.wait4; the "
            "baseline child imports and builds the same App and exits."
        )
        if gemini.errors or supabase.errors:
            raise RuntimeError(f"fake server errors: {gemini.errors + supabase.errors}")
        report.finish()


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
