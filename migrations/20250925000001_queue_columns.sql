-- cuecast's queue: what makes the job tables a real queue.
--   due_at            when the job may next be claimed (capped exponential backoff lands here)
--   lease_expires_at  while processing: when a crashed worker's claim may be taken back
--   generation        bumped by every (re-)enqueue; a finish only counts for the generation
--                     (and attempt) it claimed, so an edit during a run is never lost
--   published_at      when the last doorbell (Pub/Sub message) was rung or is expected
create schema if not exists cuecast;
revoke all on schema cuecast from public;

alter table public.analysis_jobs
  add column attempts integer not null default 0 check (attempts >= 0),
  add column generation integer not null default 1 check (generation >= 1),
  add column due_at timestamptz not null default now(),
  add column lease_expires_at timestamptz,
  add column published_at timestamptz not null default now(),
  add column voice jsonb;

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
  check ((status = 'processing') = (lease_expires_at is not null));
alter table public.ssml_jobs add constraint ssml_jobs_lease_check
  check ((status = 'processing') = (lease_expires_at is not null));
alter table public.audio_jobs add constraint audio_jobs_lease_check
  check ((status = 'processing') = (lease_expires_at is not null));

-- Feedback items are numbered within their analysis, so a re-run upserts instead of adding.
alter table public.analysis_feedback
  add column item_index integer,
  add column updated_at timestamptz not null default now();
update public.analysis_feedback as f
set item_index = n.item_index
from (
  select id, (row_number() over (partition by analysis_job_id
                                 order by timestamp_seconds, id) - 1)::integer as item_index
  from public.analysis_feedback
) as n
where f.id = n.id;
alter table public.analysis_feedback
  alter column item_index set not null,
  add constraint analysis_feedback_item_index_check check (item_index >= 0),
  add constraint analysis_feedback_job_item_key unique (analysis_job_id, item_index);

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
create index video_recordings_user_id_idx on public.video_recordings (user_id);
create index analysis_jobs_user_id_idx on public.analysis_jobs (user_id);

-- updated_at follows every update.
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

create trigger video_recordings_touch before update on public.video_recordings
  for each row execute function cuecast.touch_updated_at();
create trigger analysis_jobs_touch before update on public.analysis_jobs
  for each row execute function cuecast.touch_updated_at();
create trigger analysis_feedback_touch before update on public.analysis_feedback
  for each row execute function cuecast.touch_updated_at();
create trigger ssml_jobs_touch before update on public.ssml_jobs
  for each row execute function cuecast.touch_updated_at();
create trigger audio_jobs_touch before update on public.audio_jobs
  for each row execute function cuecast.touch_updated_at();
