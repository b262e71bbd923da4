"""The plan's migrations on rows in cuecast's own base tables: nothing the old rows said is
lost, an item plays one rendition, and no provider work is queued by the migration. (The
app's real pre-plan database: tests/db/test_adoption.py.)"""

from __future__ import annotations

import psycopg

from shared import migrate

BASE = "20250923120000"


def test_ssml_and_audio_survive_the_refactor(empty_db):
    migrate.install_local_supabase(empty_db)
    migrate.migrate(empty_db, upto=BASE)  # the base tables only
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("insert into auth.users (id) values ('00000000-0000-0000-0000-00000000000a')")
        conn.execute(
            "insert into video_recordings (id, user_id, filename, storage_path, format,"
            " upload_status) values (1, '00000000-0000-0000-0000-00000000000a', 'a.mp4',"
            " '00000000-0000-0000-0000-00000000000a/a.mp4', 'mp4', 'completed')"
        )
        conn.execute(
            "insert into analysis_jobs (id, user_id, video_recording_id, status, audio_url)"
            " values (1, '00000000-0000-0000-0000-00000000000a', 1, 'completed', 'summary.mp3')"
        )
        conn.execute(
            "insert into analysis_feedback (id, analysis_job_id, timestamp_seconds, category,"
            " message, confidence, impact) values"
            " (1, 1, 3, 'pacing', 'Slow down.', 0.9, 0.5),"
            " (2, 1, 1, 'volume', 'Speak up.', 0.8, 0.6),"
            " (3, 1, 2, 'pauses', 'No audio yet.', 0.7, 0.4),"
            " (4, 1, 4, 'framing', '   ', 0.7, 0.4)"
        )
        conn.execute(
            "insert into analysis_audio_segments (analysis_feedback_id, segment_index,"
            " feedback_ssml, ssml_prompt, feedback_audio_url, audio_duration_ms, audio_format,"
            " audio_prompt, provider, version) values"
            " (1, 0, '<speak>Slow</speak>', 'p', 'old://1-0.mp3', 900, 'mp3', 'a', 'g', 'v1'),"
            " (1, 1, '<speak>down</speak>', 'p', 'old://1-1.mp3', 800, 'mp3', 'a', 'g', 'v1'),"
            " (2, 0, '<speak>Speak up</speak>', 'p', 'old://2-0a.mp3', 700, 'mp3', 'a', 'g', 'v1'),"
            " (2, 0, '<speak>again</speak>', 'p', 'old://2-0b.mp3', 600, 'mp3', 'a', 'g', 'v1'),"
            " (3, 0, '<speak>No audio yet</speak>', 'p', null, null, null, null, 'g', 'v1')"
        )
        migrate.migrate(empty_db)

        ssml = conn.execute(
            "select feedback_id, segment_index, ssml, ssml_prompt from analysis_ssml_segments"
            " order by 1, 2"
        ).fetchall()
        # item 2's two rows at index 0 are two renditions: the newest (same time, higher id)
        assert ssml == [
            (1, 0, "<speak>Slow</speak>", "p"),
            (1, 1, "<speak>down</speak>", "p"),
            (2, 0, "<speak>again</speak>", "p"),
            (3, 0, "<speak>No audio yet</speak>", "p"),
        ]
        audio = conn.execute(
            "select feedback_id, segment_index, audio_url, duration_ms, format, provider"
            " from analysis_audio_segments order by 1, 2"
        ).fetchall()
        assert audio == [
            (1, 0, "old://1-0.mp3", 900, "mp3", "g"),
            (1, 1, "old://1-1.mp3", 800, "mp3", "g"),
            (2, 0, "old://2-0b.mp3", 600, "mp3", "g"),
        ]
        # every row as it was, the older rendition and the prompts included
        kept = conn.execute(
            "select analysis_feedback_id, segment_index, feedback_ssml, feedback_audio_url,"
            " audio_prompt from cuecast.preplan_audio_segments order by id"
        ).fetchall()
        assert kept == [
            (1, 0, "<speak>Slow</speak>", "old://1-0.mp3", "a"),
            (1, 1, "<speak>down</speak>", "old://1-1.mp3", "a"),
            (2, 0, "<speak>Speak up</speak>", "old://2-0a.mp3", "a"),
            (2, 0, "<speak>again</speak>", "old://2-0b.mp3", "a"),
            (3, 0, "<speak>No audio yet</speak>", None, None),
        ]
        statuses = conn.execute(
            "select id, ssml_status, audio_status, item_index from analysis_feedback order by id"
        ).fetchall()
        # 3 had SSML but no audio: nothing is queued for it by the migration; 4 is blank.
        assert statuses == [
            (1, "completed", "completed", 2),
            (2, "completed", "completed", 0),
            (3, "completed", "unrequested", 1),
            (4, "skipped", "skipped", 3),
        ]
        assert conn.execute("select count(*) from audio_jobs").fetchone() == (0,)
        columns = {
            c
            for (c,) in conn.execute(
                "select column_name from information_schema.columns"
                " where table_name = 'analysis_audio_segments'"
            )
        }
        assert columns == {
            "id", "feedback_id", "segment_index", "audio_url", "format", "duration_ms",
            "provider", "version", "created_at",
        }  # fmt: skip
        assert conn.execute(
            "select count(*) from information_schema.columns"
            " where table_name = 'analysis_jobs' and column_name = 'audio_url'"
        ).fetchone() == (0,)


def test_items_without_ssml_get_no_jobs(empty_db):
    migrate.install_local_supabase(empty_db)
    migrate.migrate(empty_db, upto=BASE)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("insert into auth.users (id) values ('00000000-0000-0000-0000-00000000000b')")
        conn.execute(
            "insert into video_recordings (id, user_id, filename, storage_path, format)"
            " values (1, '00000000-0000-0000-0000-00000000000b', 'b.mp4', 'x/b.mp4', 'mov')"
        )
        conn.execute(
            "insert into analysis_jobs (id, user_id, video_recording_id, status)"
            " values (1, '00000000-0000-0000-0000-00000000000b', 1, 'processing')"
        )
        conn.execute(
            "insert into analysis_feedback (id, analysis_job_id, timestamp_seconds, category,"
            " message) values (1, 1, 0, 'pacing', 'Breathe.')"
        )
        migrate.migrate(empty_db)
        assert conn.execute(
            "select ssml_status, audio_status from analysis_feedback"
        ).fetchone() == ("unrequested", "unrequested")
        assert conn.execute("select count(*) from ssml_jobs").fetchone() == (0,)
        # a job caught processing by the migration holds an already-expired lease
        assert conn.execute(
            "select status, lease_expires_at <= now() from analysis_jobs"
        ).fetchone() == ("processing", True)
