"""`cuecast demo [VIDEO]`: the whole pipeline on this machine, from an upload to audio.

It does what the app and Supabase would: creates a user and a `video_recordings` row as that
user, uploads the video to the raw bucket, flips `upload_status` to `completed` — and from
the trigger on, the pipeline runs by itself (the webhook trigger records a `net.http_post`,
the local webhook step posts it to the `webhook` function, and the local Pub/Sub bus carries
every doorbell after that). Progress is read from the job tables, as the app would read it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared import migrate
from shared.bootstrap import App
from shared.db.local import Upload
from shared.domain import JobStatus
from shared.local.runtime import LocalRuntime, with_local_secret
from shared.ports import PROCESSED_BUCKET, RAW_BUCKET
from shared.sample_video import whole_seconds, write_sample_video
from shared.settings import Settings
from shared.status import JobProgress, JobStory

FORMATS = {".mp4": ("mp4", "video/mp4"), ".mov": ("mov", "video/quicktime")}


@dataclass
class DemoRun:
    job_id: int
    stage_done_s: dict[str, float] = field(default_factory=dict)  # since command start
    failure: str | None = None
    story: JobStory | None = None


def prepare_video(video: Path | None, home: Path) -> Path:
    if video is not None:
        if not video.is_file():
            raise FileNotFoundError(f"no video at {video}")
        return video
    sample = home / "sample.mp4"
    if not sample.exists():
        sample.parent.mkdir(parents=True, exist_ok=True)
        write_sample_video(sample)
    return sample


def start_upload(app: App, video: Path) -> int:
    """Act as the app: a user, the upload, the video row, the completed flag. Returns the
    analysis job the trigger created."""
    fmt, content_type = FORMATS.get(video.suffix.lower(), ("mp4", "video/mp4"))
    user = uuid.uuid4()
    path = f"{user}/{video.name}"
    app.storage.upload(RAW_BUCKET, path, video.read_bytes(), content_type)
    upload = Upload(user, video.name, path, fmt, video.stat().st_size, whole_seconds(video))
    job_id = app.database.demo_upload(upload, email=f"{user.hex[:8]}@demo.test")
    if job_id is None:
        raise RuntimeError("the upload trigger created no analysis job")
    return job_id


def poll(app: App, job_id: int) -> JobProgress:
    progress = app.database.job_progress(job_id)
    assert progress is not None
    return progress


def watch(app: App, run: DemoRun, started: float, timeout_s: float, console: Console) -> None:
    """Live bars per stage until the job settles, fails or times out."""
    columns = (TextColumn("{task.description:<15}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bars:
        analysis = bars.add_task("start-analysis", total=100)
        ssml = bars.add_task("ssml", total=None)
        audio = bars.add_task("audio", total=None)
        deadline = time.monotonic() + timeout_s
        while True:
            now = poll(app, run.job_id)
            bars.update(analysis, completed=now.percent)
            if now.status == JobStatus.COMPLETED:
                bars.update(ssml, total=now.items, completed=now.ssml_settled)
                bars.update(audio, total=now.items, completed=now.audio_settled)
            _mark(run, now, started)
            if now.finished():
                return
            if time.monotonic() > deadline:
                run.failure = _timeout_reason(now, timeout_s)
                return
            time.sleep(0.05)


def _mark(run: DemoRun, now: JobProgress, started: float) -> None:
    elapsed = round(time.monotonic() - started, 2)
    if now.status == JobStatus.COMPLETED:
        run.stage_done_s.setdefault("start-analysis", elapsed)
        if now.ssml_settled == now.items:
            run.stage_done_s.setdefault("ssml", elapsed)
        if now.audio_settled == now.items:
            run.stage_done_s.setdefault("audio", elapsed)


def _timeout_reason(now: JobProgress, timeout_s: float) -> str:
    if now.status != JobStatus.COMPLETED:
        stage = f"start-analysis (job {now.status}, {now.percent}%)"
    elif now.ssml_settled < now.items:
        stage = f"ssml ({now.ssml_done} of {now.items} items done)"
    else:
        stage = f"audio ({now.audio_done} of {now.items} items done)"
    return f"timed out after {timeout_s:g} s in {stage}"


def failure_of(story: JobStory) -> str | None:
    """Which stage failed and why, from the tables; None when everything completed."""
    if story.job["status"] == JobStatus.FAILED:
        return f"start-analysis failed: {story.job['error_message']}"
    for item in story.items:
        for stage, job in (("ssml", item.ssml_job), ("audio", item.audio_job)):
            if job and job["status"] == JobStatus.FAILED:
                return f"{stage} failed for feedback {item.feedback_id}: {job['last_error']}"
    return None


def results_table(story: JobStory, storage_dir: Path | None) -> Table:
    """One row per feedback item; the audio files are listed under the table's rows."""
    table = Table(title=f"analysis job {story.job['id']}: {len(story.items)} feedback items")
    for name, justify in (
        ("#", "right"),
        ("at", "right"),
        ("category", "left"),
        ("ssml", "left"),
        ("audio", "left"),
        ("segments", "right"),
        ("seconds", "right"),
        ("message", "left"),
    ):
        wide = name == "message"
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=True,
            overflow="ellipsis",
            min_width=None if wide else len(name),
            max_width=48 if wide else None,
        )
    for item in story.items:
        minutes, seconds = divmod(item.timestamp_seconds, 60)
        table.add_row(
            str(item.item_index),
            f"{int(minutes)}:{seconds:04.1f}",
            item.category,
            item.ssml_status,
            item.audio_status,
            f"{item.ssml_segments}/{len(item.audio_paths)}",
            f"{item.audio_seconds:.2f}",
            item.message or "",
        )
    return table


def audio_files(story: JobStory, storage_dir: Path | None) -> list[str]:
    """Every audio object of the job: a file path for local storage, else bucket/path."""
    root = storage_dir / PROCESSED_BUCKET if storage_dir else Path(PROCESSED_BUCKET)
    return [
        f"#{item.item_index} {root / path}" for item in story.items for path in item.audio_paths
    ]


def run_demo(
    settings: Settings,
    *,
    video: Path | None,
    home: Path,
    workers: int,
    timeout_s: float,
    started: float,
    console: Console,
    transport: str = "inprocess",
    **app_kwargs: Any,
) -> DemoRun:
    assert settings.database_url
    app = App(with_local_secret(settings), **app_kwargs)
    try:
        app.check()  # a missing setting or credential refuses the demo here, in one line
        migrate.install_local_supabase(settings.database_url)
        applied = migrate.migrate(settings.database_url)
        console.print(f"  migrations  {len(applied) or 'none'} applied")
        clip = prepare_video(video, home)
        console.print(f"  video       {clip} ({clip.stat().st_size:,} bytes)")
        with LocalRuntime(app, workers=workers, transport=transport):
            run = DemoRun(start_upload(app, clip))
            run.stage_done_s["setup and upload"] = round(time.monotonic() - started, 2)
            console.print(f"  job         {run.job_id} (upload completed as the user)\n")
            watch(app, run, started, timeout_s, console)
        run.story = app.database.job_story(run.job_id)
    finally:
        app.close()
    if run.story is not None and run.failure is None:
        run.failure = failure_of(run.story)
    return run
