-- cuecast's queue: what makes the job tables a real queue.
--   due_at            when the job may next be claimed (capped exponential backoff lands here)
--   lease_expires_at  while processing: when a crashed worker's claim may be taken back
--   generation        bumped by every (re-)enqueue; a finish only counts for the generation
--                     (and attempt) it claimed, so an edit during a run is never lost
--   published_at      when the last doorbell (Pub/Sub message) was rung or is expected
create schema if not exists cuecast;
revoke all on schema cuecast from public;

-- Writers of the app's tables this file alters wait from here to its commit (a fraction of a
-- second); readers go on until the ALTERs at the end. Taken up front, parent tables first as
-- an upload writes them (a video, then its job), so that no writer is holding one of them
-- while waiting for another that this file holds (docs/migrations.md, "Locks").
lock table public.video_recordings, public.analysis_jobs, public.analysis_feedback
  in share row exclusive mode;

-- Feedback items are numbered within their analysis job, so a re-run upserts instead of
-- adding. The adopted database's items were numbered by 20250923120002, which also built the
-- unique index; on cuecast's base tables the numbering happens here, before any exclusive
-- lock. NOT NULL arrives through a check validated by 20251202000001 (no scan under lock).
-- The statements that lock the app's busy tables (feedback, videos) come last in this file,
-- so their locks are held for the shortest time.
do $numbering$
begin
  if not exists (
    select 1 from pg_attribute
    where attrelid = 'public.analysis_feedback'::regclass and attname = 'item_index'
      and not attisdropped
  ) then
    alter table public.analysis_feedback add column item_index integer;
  end if;
  update public.analysis_feedback as f
  set item_index = n.item_index
  from (
    select id, (row_number() over (partition by analysis_job_id
                                   order by timestamp_seconds, id) - 1)::integer as item_index
    from public.analysis_feedback
    where analysis_job_id in (
      select analysis_job_id from public.analysis_feedback where item_index is null)
  ) as n
  where f.id = n.id;
end;
$numbering$;

-- (Its checks NOT VALID, validated by 20251202000001: no scan of the app's jobs under lock.)
alter table public.analysis_jobs
  add column attempts integer not null default 0,
  add column generation integer not null default 1,
  add column due_at timestamptz not null default now(),
  add column lease_expires_at timestamptz,
  add column published_at timestamptz not null default now(),
  add column voice jsonb,
  add constraint analysis_jobs_attempts_check check (attempts >= 0) not valid,
  add constraint analysis_jobs_generation_check check (generation >= 1) not valid;

alter table public.ssml_jobs
  add column generation integer not null default 1 check (generation >= 1),
  add column due_at timestamptz not null default now(),
  add column lease_expires_at timestamptz,
  add column published_at timestamptz not null default now(),
  add column updated_at timestamptz not null default now();

alter table public.audio_jobs
  add column generation integer not null default 1 check (generation >= 1),
  add column due_at timestamptz not null default now(),
  add column lease_expires_at timestamptz,
  add column published_at timestamptz not null default now(),
  add column updated_at timestamptz not null default now();

-- A processing job always holds a lease; nothing else does. Jobs caught processing by this
-- migration get a lease that has already expired, so the reconciler takes them back.
update public.analysis_jobs set lease_expires_at = now() where status = 'processing';
update public.ssml_jobs set lease_expires_at = now() where status = 'processing';
update public.audio_jobs set lease_expires_at = now() where status = 'processing';
alter table public.analysis_jobs add constraint analysis_jobs_lease_check
  check ((status = 'processing') = (lease_expires_at is not null)) not valid;
alter table public.ssml_jobs add constraint ssml_jobs_lease_check
  check ((status = 'processing') = (lease_expires_at is not null)) not valid;
alter table public.audio_jobs add constraint audio_jobs_lease_check
  check ((status = 'processing') = (lease_expires_at is not null)) not valid;

-- Every new SSML segment fits the TTS input limit; rows from before are not re-checked.
alter table public.analysis_ssml_segments
  add constraint analysis_ssml_segments_size_check check (octet_length(ssml) <= 5000) not valid;

-- The claim reads one row by primary key; the reconciler walks these partial indexes.
create index analysis_jobs_queued_due_idx on public.analysis_jobs (due_at) where status = 'queued';
create index analysis_jobs_lease_idx on public.analysis_jobs (lease_expires_at)
  where status = 'processing';
create index analysis_jobs_failed_idx on public.analysis_jobs (updated_at) where status = 'failed';
create index ssml_jobs_queued_due_idx on public.ssml_jobs (due_at) where status = 'queued';
create index ssml_jobs_lease_idx on public.ssml_jobs (lease_expires_at) where status = 'processing';
create index ssml_jobs_failed_idx on public.ssml_jobs (updated_at) where status = 'failed';
create index audio_jobs_queued_due_idx on public.audio_jobs (due_at) where status = 'queued';
create index audio_jobs_lease_idx on public.audio_jobs (lease_expires_at) where status = 'processing';
create index audio_jobs_failed_idx on public.audio_jobs (updated_at) where status = 'failed';

-- updated_at follows every update (on the adopted database this replaces the app's own
-- `handle_*_updated_at` triggers on the two tables, which did the same).
drop trigger if exists handle_analysis_jobs_updated_at on public.analysis_jobs;

create function cuecast.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create trigger analysis_jobs_touch before update on public.analysis_jobs
  for each row execute function cuecast.touch_updated_at();
create trigger ssml_jobs_touch before update on public.ssml_jobs
  for each row execute function cuecast.touch_updated_at();
create trigger audio_jobs_touch before update on public.audio_jobs
  for each row execute function cuecast.touch_updated_at();

-- Last, the app's busy tables: each lock below is held from here to the commit only.
do $indexes$
begin
  -- The app's database has these two already (`if not exists` would still lock the table).
  if to_regclass('public.analysis_jobs_user_id_idx') is null then
    create index analysis_jobs_user_id_idx on public.analysis_jobs (user_id);
  end if;
  if to_regclass('public.video_recordings_user_id_idx') is null then
    create index video_recordings_user_id_idx on public.video_recordings (user_id);
  end if;
  if to_regclass('public.analysis_feedback_job_item_key') is null then
    create unique index analysis_feedback_job_item_key
      on public.analysis_feedback (analysis_job_id, item_index);
  end if;
end;
$indexes$;

drop trigger if exists handle_video_recordings_updated_at on public.video_recordings;
create trigger video_recordings_touch before update on public.video_recordings
  for each row execute function cuecast.touch_updated_at();

alter table public.analysis_feedback
  add column updated_at timestamptz not null default now(),
  add constraint analysis_feedback_item_index_not_null check (item_index is not null) not valid,
  add constraint analysis_feedback_item_index_check check (item_index >= 0) not valid,
  add constraint analysis_feedback_job_item_key unique using index analysis_feedback_job_item_key;
create trigger analysis_feedback_touch before update on public.analysis_feedback
  for each row execute function cuecast.touch_updated_at();
