"""Rows for the benchmarks, written with set-based SQL: feedback items whose SSML jobs are
queued (through the real triggers), as start-analysis leaves them."""

from __future__ import annotations

import json
import uuid

import psycopg

from shared.domain import Voice

Conn = psycopg.Connection[tuple[object, ...]]
VOICE = Voice("en-US-Neural2-D", "en-US", "coach")
MESSAGE = "Keep your elbows in as you lift; it protects your shoulders."


def seed_items(conn: Conn, count: int, *, per_video: int = 10, message: str = MESSAGE) -> list[int]:
    """`count` feedback items, `per_video` per completed analysis job, each with its SSML job
    queued by the feedback trigger. Returns the feedback ids in order."""
    user = uuid.uuid4()
    videos = (count + per_video - 1) // per_video
    conn.execute(
        "insert into auth.users (id, email) values (%s, %s)", (user, f"{user.hex[:8]}@bench.test")
    )
    with conn.transaction():
        video_ids = [
            int(v)  # type: ignore[call-overload]
            for (v,) in conn.execute(
                "insert into public.video_recordings"
                " (user_id, filename, storage_path, format, file_size, upload_status)"
                " select %(user)s, 'v' || g || '.mp4', %(user)s::text || '/v' || g || '.mp4',"
                "        'mp4', 1000000, 'completed'"
                " from generate_series(1, %(videos)s) as g returning id",
                {"user": user, "videos": videos},
            ).fetchall()
        ]
        job_ids = [
            int(j)  # type: ignore[call-overload]
            for (j,) in conn.execute(
                "update public.analysis_jobs set status = 'completed', voice = %(voice)s"
                " where video_recording_id = any(%(videos)s)"
                " returning id",
                {"videos": video_ids, "voice": json.dumps(VOICE.as_dict())},
            ).fetchall()
        ]
        job_ids.sort()
        rows = conn.execute(
            "insert into public.analysis_feedback"
            " (analysis_job_id, item_index, timestamp_seconds, category, message,"
            "  confidence, impact)"
            " select (%(jobs)s::bigint[])[k / %(per)s + 1], k %% %(per)s, k %% %(per)s,"
            "        'technique', %(message)s, 0.9, 0.6"
            " from generate_series(0, %(count)s - 1) as k order by k returning id",
            {"jobs": job_ids, "per": per_video, "message": message, "count": count},
        ).fetchall()
    return [int(r[0]) for r in rows]  # type: ignore[call-overload]


def clear_items(conn: Conn) -> None:
    """Remove every user, video, job and item (between runs, so each starts equal)."""
    conn.execute("truncate auth.users, public.video_recordings restart identity cascade")


def analyze(conn: Conn) -> None:
    conn.execute(
        "analyze public.analysis_jobs, public.analysis_feedback, public.ssml_jobs,"
        " public.audio_jobs, public.analysis_ssml_segments, public.analysis_audio_segments"
    )


def complete_ssml(conn: Conn, ids: list[int], *, segments: int = 1) -> None:
    """Finish the items' SSML as the ssml stage would (segments, job completed, audio job
    queued), in one set-based transaction: the starting point of an audio-only run."""
    with conn.transaction():
        conn.execute(
            "insert into public.analysis_ssml_segments"
            " (feedback_id, segment_index, ssml, provider, version)"
            " select f, s, '<speak><s>' || %(message)s || '</s></speak>', 'bench', 'bench-1'"
            " from unnest(%(ids)s::bigint[]) as f, generate_series(0, %(segments)s - 1) as s",
            {"ids": ids, "segments": segments, "message": MESSAGE},
        )
        conn.execute(
            "update public.ssml_jobs set status = 'completed' where feedback_id = any(%(ids)s)",
            {"ids": ids},
        )
        conn.execute(
            "select cuecast.enqueue_audio(f) from unnest(%(ids)s::bigint[]) as f", {"ids": ids}
        )
