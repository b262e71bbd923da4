-- Realistic rows of the app's pre-plan database, for the adoption tests (tests/preplan and
-- tests/db/test_adoption.py say what each becomes). Users A (…a1) and B (…b1).
--   video 1  one completed job: an item with two renditions, NULLs, an item without audio,
--            a blank message, an item whose synthesis never finished (SSML, empty audio_url)
--   video 2  re-uploaded: a failed job, then a completed one
--   video 3  two completed jobs, each with feedback and audio
--   video 4  upload pending, no job;  video 7  upload failed, no job
--   video 5  a job the old pipeline left queued
--   video 6  one job, two analyses (a re-run), each with feedback; a re-rendered item
--   video 8  two failed jobs, no feedback anywhere
insert into auth.users (id, email) values
  ('00000000-0000-0000-0000-0000000000a1', 'a@app.test'),
  ('00000000-0000-0000-0000-0000000000b1', 'b@app.test');

insert into public.profiles (id, user_id, username, full_name, avatar_url, bio, created_at, updated_at)
overriding system value values
  (1, '00000000-0000-0000-0000-0000000000a1', 'ada', 'Ada A.', null, null,
   '2025-09-01 08:00+00', '2025-09-01 08:00+00'),
  (2, '00000000-0000-0000-0000-0000000000b1', 'bo', null, null, 'Golf, mostly.',
   '2025-09-02 08:00+00', '2025-09-03 08:00+00');

insert into public.video_recordings (id, user_id, filename, original_filename, file_size,
  duration_seconds, format, storage_path, upload_status, upload_progress, metadata,
  created_at, updated_at)
overriding system value values
  (1, '00000000-0000-0000-0000-0000000000a1', 'v1.mp4', 'IMG_0001.mp4', 5242880, 20, 'mp4',
   '00000000-0000-0000-0000-0000000000a1/v1.mp4', 'completed', 100, '{"device": "iPhone"}',
   '2025-09-10 09:00+00', '2025-09-10 09:01+00'),
  (2, '00000000-0000-0000-0000-0000000000a1', 'v2.mp4', null, 1048576, 8, 'mp4',
   '00000000-0000-0000-0000-0000000000a1/v2.mp4', 'completed', 100, '{}',
   '2025-09-11 09:00+00', '2025-09-11 09:30+00'),
  (3, '00000000-0000-0000-0000-0000000000b1', 'v3.mov', 'swing.mov', 9437184, 60, 'mov',
   '00000000-0000-0000-0000-0000000000b1/v3.mov', 'completed', 100, null,
   '2025-09-12 09:00+00', '2025-09-12 09:00+00'),
  (4, '00000000-0000-0000-0000-0000000000b1', 'v4.mp4', null, 2097152, 1, 'mp4',
   '00000000-0000-0000-0000-0000000000b1/v4.mp4', 'pending', 40, '{}',
   '2025-09-13 09:00+00', '2025-09-13 09:00+00'),
  (5, '00000000-0000-0000-0000-0000000000a1', 'v5.mp4', null, 3145728, 30, 'mp4',
   '00000000-0000-0000-0000-0000000000a1/v5.mp4', 'completed', 100, '{}',
   '2025-09-14 09:00+00', '2025-09-14 09:00+00'),
  (6, '00000000-0000-0000-0000-0000000000b1', 'v6.mp4', null, 4194304, 45, 'mp4',
   '00000000-0000-0000-0000-0000000000b1/v6.mp4', 'completed', 100, '{}',
   '2025-09-15 09:00+00', '2025-09-15 09:00+00'),
  (7, '00000000-0000-0000-0000-0000000000a1', 'v7.mp4', null, 1, 5, 'mp4',
   '00000000-0000-0000-0000-0000000000a1/v7.mp4', 'failed', 3, '{}',
   '2025-09-16 09:00+00', '2025-09-16 09:00+00'),
  (8, '00000000-0000-0000-0000-0000000000b1', 'v8.mp4', null, 1048576, 12, 'mp4',
   '00000000-0000-0000-0000-0000000000b1/v8.mp4', 'completed', 100, '{}',
   '2025-09-17 09:00+00', '2025-09-17 09:00+00');

insert into public.analysis_jobs (id, user_id, video_recording_id, status, progress_percentage,
  processing_started_at, processing_completed_at, error_message, results, pose_data,
  created_at, updated_at, processing_time_ms, video_source_type)
overriding system value values
  (10, '00000000-0000-0000-0000-0000000000a1', 1, 'completed', 100, '2025-09-10 09:02+00',
   '2025-09-10 09:03+00', null, '{"form_score": 80}', '{}', '2025-09-10 09:01+00',
   '2025-09-10 09:03+00', 61000, 'uploaded_video'),
  (20, '00000000-0000-0000-0000-0000000000a1', 2, 'failed', 0, '2025-09-11 09:02+00', null,
   'Edge Function timed out', '{}', '{}', '2025-09-11 09:01+00', '2025-09-11 09:05+00', null,
   'live_recording'),
  (21, '00000000-0000-0000-0000-0000000000a1', 2, 'completed', 100, '2025-09-11 09:31+00',
   '2025-09-11 09:32+00', null, '{}', '{}', '2025-09-11 09:30+00', '2025-09-11 09:32+00',
   45000, 'live_recording'),
  (30, '00000000-0000-0000-0000-0000000000b1', 3, 'completed', 100, null, null, null, null,
   '{}', '2025-09-12 09:01+00', '2025-09-12 09:04+00', null, null),
  (31, '00000000-0000-0000-0000-0000000000b1', 3, 'completed', 100, null, null, null, '{}',
   '{}', '2025-09-12 10:01+00', '2025-09-12 10:04+00', null, null),
  (50, '00000000-0000-0000-0000-0000000000a1', 5, 'queued', 0, null, null, null, '{}', '{}',
   '2025-09-14 09:01+00', '2025-09-14 09:01+00', null, 'uploaded_video'),
  (60, '00000000-0000-0000-0000-0000000000b1', 6, 'completed', 100, null, null, null, '{}',
   '{}', '2025-09-15 09:01+00', '2025-09-15 11:00+00', null, null),
  (80, '00000000-0000-0000-0000-0000000000b1', 8, 'failed', null, null, null, 'quota', '{}',
   '{}', '2025-09-17 09:01+00', '2025-09-17 09:02+00', null, null),
  (81, '00000000-0000-0000-0000-0000000000b1', 8, 'failed', 0, null, null, 'quota again',
   '{}', '{}', '2025-09-17 09:10+00', '2025-09-17 09:11+00', null, null);

insert into public.analyses (id, job_id, created_at, updated_at, full_feedback_text,
  summary_text, raw_generated_text, full_feedback_json, feedback_prompt)
values
  ('00000000-0000-0000-0000-00000000a010', 10, '2025-09-10 09:03+00', '2025-09-10 09:03+00',
   'Good start. Elbows in, knees bent.', 'Good start.', '{"items": 4}', '{"score": 80}', 'p1'),
  ('00000000-0000-0000-0000-00000000a021', 21, '2025-09-11 09:32+00', '2025-09-11 09:32+00',
   'Stand tall.', null, null, null, null),
  ('00000000-0000-0000-0000-00000000a030', 30, '2025-09-12 09:04+00', '2025-09-12 09:04+00',
   'First look.', null, null, null, 'p1'),
  ('00000000-0000-0000-0000-00000000a031', 31, '2025-09-12 10:04+00', '2025-09-12 10:04+00',
   'Second look.', null, null, null, 'p2'),
  ('00000000-0000-0000-0000-00000000a060', 60, '2025-09-15 09:03+00', '2025-09-15 09:03+00',
   'Run one.', null, null, null, 'p1'),
  ('00000000-0000-0000-0000-00000000a061', 60, '2025-09-15 10:59+00', '2025-09-15 10:59+00',
   'Run two.', null, null, null, 'p2');

insert into public.analysis_feedback (id, analysis_id, timestamp_seconds, category, message,
  confidence, impact, created_at)
overriding system value values
  (100, '00000000-0000-0000-0000-00000000a010', 7.5, 'Posture', 'Keep your elbows in.', 0.9,
   0.7, '2025-09-10 09:03+00'),
  (101, '00000000-0000-0000-0000-00000000a010', 2, 'Movement', 'Bend your knees more.', null,
   null, '2025-09-10 09:03+00'),
  (102, '00000000-0000-0000-0000-00000000a010', 12, 'Timing', 'Pause before the swing.', 0.6,
   0.4, '2025-09-10 09:03+00'),
  (103, '00000000-0000-0000-0000-00000000a010', 15, 'Other', '   ', 0.5, 0.1,
   '2025-09-10 09:03+00'),
  (104, '00000000-0000-0000-0000-00000000a010', 18, 'Posture', 'Relax your shoulders.', 0.7,
   0.3, '2025-09-10 09:03+00'),
  (210, '00000000-0000-0000-0000-00000000a021', 3, 'Posture', 'Stand tall.', 0.8, 0.5,
   '2025-09-11 09:32+00'),
  (300, '00000000-0000-0000-0000-00000000a030', 1, 'Grip', 'Loosen your grip.', 0.7, 0.6,
   '2025-09-12 09:04+00'),
  (310, '00000000-0000-0000-0000-00000000a031', 4, 'Grip', 'Grip lighter, like a bird.', 0.7,
   0.6, '2025-09-12 10:04+00'),
  (311, '00000000-0000-0000-0000-00000000a031', 5, 'Tempo', 'Slow the backswing.', 0.6, 0.5,
   '2025-09-12 10:04+00'),
  (600, '00000000-0000-0000-0000-00000000a060', 2, 'Balance', 'Weight forward.', 0.5, 0.5,
   '2025-09-15 09:03+00'),
  (610, '00000000-0000-0000-0000-00000000a061', 2, 'Balance', 'Weight on the lead foot.', 0.6,
   0.5, '2025-09-15 10:59+00'),
  (611, '00000000-0000-0000-0000-00000000a061', 9.25, 'Finish', 'Hold the finish.', 0.9, 0.8,
   '2025-09-15 10:59+00');

insert into public.analysis_audio_segments (id, analysis_feedback_id, feedback_ssml, audio_url,
  audio_duration_ms, audio_format, created_at, analysis_id, ssml_prompt, audio_prompt)
overriding system value values
  (1000, 100, '<speak>Keep your elbows in.</speak>',
   '00000000-0000-0000-0000-0000000000a1/10/100-a.mp3', 1800, 'mp3', '2025-09-10 09:04+00',
   '00000000-0000-0000-0000-00000000a010', 'ssml prompt v1', 'tts prompt v1'),
  (1001, 100, '<speak>Keep your <emphasis>elbows</emphasis> in.</speak>',
   '00000000-0000-0000-0000-0000000000a1/10/100-b.mp3', 1900, 'mp3', '2025-09-10 09:05+00',
   '00000000-0000-0000-0000-00000000a010', 'ssml prompt v2', 'tts prompt v2'),
  (1002, 101, '<speak>Bend your knees more.</speak>',
   '00000000-0000-0000-0000-0000000000a1/10/101.wav', null, 'wav', '2025-09-10 09:04+00',
   null, null, null),
  (1003, 210, '<speak>Stand tall.</speak>',
   '00000000-0000-0000-0000-0000000000a1/21/210.aac', 1500, 'aac', '2025-09-11 09:33+00',
   '00000000-0000-0000-0000-00000000a021', 'ssml prompt v2', null),
  (1004, 300, '<speak>Loosen your grip.</speak>',
   '00000000-0000-0000-0000-0000000000b1/30/300.mp3', 1200, 'mp3', '2025-09-12 09:05+00',
   '00000000-0000-0000-0000-00000000a030', 'ssml prompt v1', 'tts prompt v1'),
  (1005, 310, '<speak>Grip lighter, like a bird.</speak>',
   '00000000-0000-0000-0000-0000000000b1/31/310.mp3', 2100, 'mp3', '2025-09-12 10:05+00',
   '00000000-0000-0000-0000-00000000a031', null, null),
  (1006, 311, '', '00000000-0000-0000-0000-0000000000b1/31/311.mp3', 1700, null,
   '2025-09-12 10:05+00', '00000000-0000-0000-0000-00000000a031', null, null),
  (1007, 600, '<speak>Weight forward.</speak>',
   '00000000-0000-0000-0000-0000000000b1/60/600.mp3', 1000, 'mp3', '2025-09-15 09:04+00',
   '00000000-0000-0000-0000-00000000a060', null, null),
  (1008, 610, '<speak>Weight on the lead foot.</speak>',
   '00000000-0000-0000-0000-0000000000b1/60/610.mp3', 1400, 'mp3', '2025-09-15 11:00+00',
   '00000000-0000-0000-0000-00000000a061', null, null),
  (1009, 611, '<speak>Hold the finish.</speak>',
   '00000000-0000-0000-0000-0000000000b1/60/611-a.mp3', 900, 'mp3', '2025-09-15 11:00+00',
   '00000000-0000-0000-0000-00000000a061', 'ssml prompt v2', 'tts prompt v2'),
  (1010, 611, '<speak>Hold <break time="300ms"/> the finish.</speak>',
   '00000000-0000-0000-0000-0000000000b1/60/611-b.mp3', 1100, 'mp3', '2025-09-15 11:00+00',
   '00000000-0000-0000-0000-00000000a061', 'ssml prompt v3', 'tts prompt v3'),
  (1011, 104, '<speak>Relax your shoulders.</speak>', '', null, null, '2025-09-10 09:04+00',
   '00000000-0000-0000-0000-00000000a010', 'ssml prompt v2', null);

insert into public.analysis_metrics (id, analysis_id, metric_key, metric_value, unit,
  created_at, updated_at)
overriding system value values
  (1, 10, 'form_score', 80, 'percentage', '2025-09-10 09:03+00', '2025-09-10 09:03+00'),
  (2, 30, 'form_score', 60, 'percentage', '2025-09-12 09:04+00', '2025-09-12 09:04+00'),
  (3, 31, 'form_score', 70, 'percentage', '2025-09-12 10:04+00', '2025-09-12 10:04+00');

insert into public.upload_sessions (id, user_id, video_recording_id, session_id, signed_url,
  expires_at, bytes_uploaded, total_bytes, chunk_size, status, created_at, updated_at)
overriding system value values
  (1, '00000000-0000-0000-0000-0000000000a1', 1, '00000000-0000-0000-0000-00000000e001',
   'https://storage.invalid/upload/sign/raw/v1.mp4', '2025-09-10 10:00+00', 5242880, 5242880,
   1048576, 'completed', '2025-09-10 09:00+00', '2025-09-10 09:01+00');

insert into storage.objects (bucket_id, name, owner, metadata) values
  ('raw', '00000000-0000-0000-0000-0000000000a1/v1.mp4', '00000000-0000-0000-0000-0000000000a1',
   '{"mimetype": "video/mp4", "size": 5242880}'),
  ('processed', '00000000-0000-0000-0000-0000000000a1/10/100-b.mp3', null, null);

-- The ids above were given, so the identity sequences follow them, as the app's had.
select setval(pg_get_serial_sequence('public.' || t, 'id'), m)
from (values
  ('profiles', (select max(id) from public.profiles)),
  ('video_recordings', (select max(id) from public.video_recordings)),
  ('analysis_jobs', (select max(id) from public.analysis_jobs)),
  ('analysis_feedback', (select max(id) from public.analysis_feedback)),
  ('analysis_audio_segments', (select max(id) from public.analysis_audio_segments)),
  ('analysis_metrics', (select max(id) from public.analysis_metrics)),
  ('upload_sessions', (select max(id) from public.upload_sessions))
) as s(t, m);
