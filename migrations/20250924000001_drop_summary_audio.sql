-- 01: audio is per feedback item now; the whole-video summary audio goes.
alter table public.analysis_jobs drop column if exists audio_url;
