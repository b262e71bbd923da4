"""What the commands print: the tables and lines of `cuecast status`, `replay`, `backfill`
and `migrate`, written with rich."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from shared import migrate as migrations
from shared.backfill import BackfillPlan
from shared.domain import JobStatus
from shared.local.demo import audio_files, results_table
from shared.replay import ReplayReport
from shared.settings import Settings
from shared.status import JobStory, StageStatus


def print_applied(console: Console, migration: migrations.Migration, said: list[str]) -> None:
    console.print(f"applied {migration.path.name}", highlight=False)
    for line in said:
        console.print(f"  {line}", highlight=False, markup=False)


def stage_times(done: dict[str, float]) -> str:
    """`stage done at T s (+D s)` for each finished stage, D since the previous one."""
    parts, previous = [], 0.0
    for stage, seconds in done.items():
        parts.append(f"{stage} done at {seconds:.2f} s (+{seconds - previous:.2f})")
        previous = seconds
    return ", ".join(parts) or "nothing finished"


def print_story(story: JobStory, settings: Settings, console: Console) -> None:
    storage = Path(settings.storage_dir) if settings.storage == "local" else None
    console.print(story_header(story))
    console.print(results_table(story, storage))
    for line in audio_files(story, storage):
        console.print(f"  {line}", soft_wrap=True)
    for item in story.items:
        for stage, job in (("ssml", item.ssml_job), ("audio", item.audio_job)):
            if job and job["last_error"]:
                console.print(f"  {stage} {item.feedback_id}: {job['last_error']}")


def print_status(report: list[StageStatus], console: Console) -> None:
    console.print(status_table(report))
    for status in report:
        for failure in status.failures:
            console.print(
                f"  {status.stage} {failure.id} failed after {failure.attempts} attempt(s)"
                f" at {failure.at:%Y-%m-%d %H:%M:%S}: {failure.error}"
            )


def story_header(story: JobStory) -> str:
    job, video = story.job, story.video
    timing = ""
    if job["processing_started_at"] and job["processing_completed_at"]:
        seconds = (job["processing_completed_at"] - job["processing_started_at"]).total_seconds()
        timing = f", analysed in {seconds:.2f} s"
    return (
        f"analysis job {job['id']}: {job['status']} ({job['progress_percentage']}%), "
        f"attempt {job['attempts']}, generation {job['generation']}{timing}\n"
        f"  video {video['id']} {video['storage_path']} ({video['format']}, "
        f"{video['file_size'] or 0:,} bytes, upload {video['upload_status']}), "
        f"created {job['created_at']:%Y-%m-%d %H:%M:%S}\n"
        + (f"  error: {job['error_message']}\n" if job["error_message"] else "")
    )


def status_table(report: list[StageStatus]) -> Table:
    table = Table(title="jobs by stage")
    table.add_column("stage")
    for name in JobStatus:
        table.add_column(name.value, justify="right")
    table.add_column("oldest queued", justify="right")
    for stage in report:
        oldest = "-" if stage.oldest_queued_s is None else f"{stage.oldest_queued_s:.0f} s"
        counts = [str(stage.counts.get(s.value, 0)) for s in JobStatus]
        table.add_row(str(stage.stage), *counts, oldest)
    return table


def print_replay(report: ReplayReport, console: Console) -> None:
    for stage, selected in report.selected.items():
        ids = " ".join(f"{key}({status})" for key, status in selected) or "none"
        console.print(f"  {stage}: {ids}")
        if report.requeued.get(stage):
            console.print(f"  {stage}: re-queued {len(report.requeued[stage])} failed job(s)")
    verb = "would publish" if report.dry_run else "published"
    total = sum(len(s) for s in report.selected.values())
    console.print(f"{verb} {total if report.dry_run else report.total_published()} message(s)")


def print_plan(counted: BackfillPlan, settings: Settings, console: Console) -> None:
    table = Table(title="cuecast backfill --dry-run: what a run would queue")
    for name in ("items", "need", "provider calls"):
        table.add_column(name, justify="right" if name == "items" else "left")
    writer = "Gemini" if settings.ssml_writer == "gemini" else "the SSML builder (no API)"
    tts = "Cloud Text-to-Speech" if settings.tts == "google" else "eSpeak NG (local)"
    table.add_row(str(counted.ssml_items), "SSML, then audio", f"{counted.ssml_items} to {writer}")
    table.add_row(str(counted.audio_items), "audio", "")
    table.add_row(str(counted.items), "in all", f"{counted.tts_calls} to {tts}")
    console.print(table)
