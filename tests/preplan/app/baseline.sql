-- The app's schema before the action plan, as its baseline migration (version
-- 20250923000000) left it: written for cuecast's tests from the facts of
-- JohnSchweden/sololevel at f781bdf8e (supabase/migrations), not copied from it. Only what
-- cuecast's adoption meets is here: the tables with their columns, constraints, indexes,
-- triggers, row level security, policies and grants, and the functions that write them.

create or replace function public.handle_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at = now();
  return new;
end;
$$;

create table public.profiles (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  username text unique,
  full_name text,
  avatar_url text,
  bio text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index profiles_user_id_idx on public.profiles (user_id);
create index profiles_username_idx on public.profiles (username);

create table public.video_recordings (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  filename text not null,
  original_filename text,
  file_size bigint not null,
  duration_seconds integer not null
    constraint video_recordings_duration_seconds_check
    check (duration_seconds > 0 and duration_seconds <= 60),
  format text not null constraint video_recordings_format_check check (format in ('mp4', 'mov')),
  storage_path text not null,
  upload_status text not null default 'pending'
    constraint video_recordings_upload_status_check
    check (upload_status in ('pending', 'uploading', 'completed', 'failed')),
  upload_progress integer default 0
    constraint video_recordings_upload_progress_check
    check (upload_progress >= 0 and upload_progress <= 100),
  metadata jsonb default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index video_recordings_created_at_idx on public.video_recordings (created_at desc);
create index video_recordings_upload_status_idx on public.video_recordings (upload_status);
create index video_recordings_user_id_idx on public.video_recordings (user_id);

create table public.analysis_jobs (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  video_recording_id bigint not null references public.video_recordings (id) on delete cascade,
  status text not null default 'queued'
    constraint analysis_jobs_status_check
    check (status in ('queued', 'processing', 'completed', 'failed')),
  progress_percentage integer default 0
    constraint analysis_jobs_progress_percentage_check
    check (progress_percentage >= 0 and progress_percentage <= 100),
  processing_started_at timestamptz,
  processing_completed_at timestamptz,
  error_message text,
  results jsonb default '{}'::jsonb,
  pose_data jsonb default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  processing_time_ms bigint,
  video_source_type text
    constraint analysis_jobs_video_source_type_check
    check (video_source_type in ('live_recording', 'uploaded_video'))
);
create index analysis_jobs_created_at_idx on public.analysis_jobs (created_at desc);
create index analysis_jobs_status_idx on public.analysis_jobs (status);
create index analysis_jobs_user_id_idx on public.analysis_jobs (user_id);
create index analysis_jobs_video_recording_id_idx on public.analysis_jobs (video_recording_id);

create table public.analyses (
  id uuid primary key default gen_random_uuid(),
  job_id bigint not null references public.analysis_jobs (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  full_feedback_text text,
  summary_text text,
  raw_generated_text text,
  full_feedback_json jsonb,
  feedback_prompt text
);
create index analyses_created_at_idx on public.analyses (created_at desc);
create index analyses_feedback_json_idx on public.analyses using gin (full_feedback_json);
create index analyses_job_id_idx on public.analyses (job_id);

create table public.analysis_feedback (
  id bigint generated always as identity primary key,
  analysis_id uuid not null references public.analyses (id) on delete cascade,
  timestamp_seconds numeric not null,
  category text not null,
  message text not null,
  confidence numeric constraint analysis_feedback_confidence_check
    check (confidence >= 0 and confidence <= 1),
  impact numeric constraint analysis_feedback_impact_check check (impact >= 0 and impact <= 1),
  created_at timestamptz not null default now()
);
create index analysis_feedback_analysis_category_idx on public.analysis_feedback (analysis_id, category);
create index analysis_feedback_analysis_id_idx on public.analysis_feedback (analysis_id);
create index analysis_feedback_analysis_timestamp_idx
  on public.analysis_feedback (analysis_id, timestamp_seconds);
create index analysis_feedback_category_idx on public.analysis_feedback (category);
create index analysis_feedback_created_at_idx on public.analysis_feedback (created_at desc);
create index analysis_feedback_timestamp_idx on public.analysis_feedback (timestamp_seconds);

create table public.analysis_audio_segments (
  id bigint generated always as identity primary key,
  analysis_feedback_id bigint not null
    references public.analysis_feedback (id) on delete cascade,
  feedback_ssml text not null,
  audio_url text not null,
  audio_duration_ms integer,
  audio_format text default 'mp3'
    constraint analysis_audio_segments_audio_format_check
    check (audio_format in ('mp3', 'aac', 'wav')),
  created_at timestamptz not null default now(),
  analysis_id uuid references public.analyses (id) on delete cascade,
  ssml_prompt text,
  audio_prompt text
);
create index analysis_audio_segments_analysis_id_idx on public.analysis_audio_segments (analysis_id);
create index analysis_audio_segments_created_at_idx
  on public.analysis_audio_segments (created_at desc);
create index analysis_audio_segments_feedback_format_idx
  on public.analysis_audio_segments (analysis_feedback_id, audio_format);
create index analysis_audio_segments_feedback_id_idx
  on public.analysis_audio_segments (analysis_feedback_id);
create index analysis_audio_segments_format_idx on public.analysis_audio_segments (audio_format);

create table public.analysis_metrics (
  id bigint generated always as identity primary key,
  analysis_id bigint not null references public.analysis_jobs (id) on delete cascade,
  metric_key text not null,
  metric_value numeric not null,
  unit text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint analysis_metrics_analysis_metric_unique unique (analysis_id, metric_key)
);
create index analysis_metrics_analysis_id_idx on public.analysis_metrics (analysis_id);

create table public.upload_sessions (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  video_recording_id bigint references public.video_recordings (id) on delete cascade,
  session_id uuid not null unique default gen_random_uuid(),
  signed_url text not null,
  expires_at timestamptz not null,
  bytes_uploaded bigint default 0,
  total_bytes bigint not null,
  chunk_size integer default 1048576,
  status text not null default 'active'
    constraint upload_sessions_status_check
    check (status in ('active', 'completed', 'expired', 'cancelled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index upload_sessions_user_id_idx on public.upload_sessions (user_id);

create trigger handle_profiles_updated_at before update on public.profiles
  for each row execute function public.handle_updated_at();
create trigger handle_video_recordings_updated_at before update on public.video_recordings
  for each row execute function public.handle_updated_at();
create trigger handle_analysis_jobs_updated_at before update on public.analysis_jobs
  for each row execute function public.handle_updated_at();
create trigger handle_analyses_updated_at before update on public.analyses
  for each row execute function public.handle_updated_at();
create trigger handle_analysis_metrics_updated_at before update on public.analysis_metrics
  for each row execute function public.handle_updated_at();
create trigger handle_upload_sessions_updated_at before update on public.upload_sessions
  for each row execute function public.handle_updated_at();

-- The app's own kickoff: a new job on every flip to completed, however many there were.
create or replace function public.create_analysis_job_on_upload_complete() returns trigger
language plpgsql security definer as $$
begin
  if old.upload_status != 'completed' and new.upload_status = 'completed' then
    insert into public.analysis_jobs (user_id, video_recording_id) values (new.user_id, new.id);
  end if;
  return new;
end;
$$;
create trigger create_analysis_job_on_upload_complete after update on public.video_recordings
  for each row execute function public.create_analysis_job_on_upload_complete();

-- Writers the Edge Function called (SECURITY DEFINER, executable by every API role).
create or replace function public.store_analysis_results(
  p_job_id bigint, p_full_feedback_text text default null, p_summary_text text default null,
  p_raw_generated_text text default null, p_full_feedback_json jsonb default null,
  p_feedback_prompt text default null
) returns uuid
language plpgsql security definer as $$
declare
  v_id uuid;
begin
  insert into public.analyses (job_id, full_feedback_text, summary_text, raw_generated_text,
                               full_feedback_json, feedback_prompt)
  values (p_job_id, p_full_feedback_text, p_summary_text, p_raw_generated_text,
          p_full_feedback_json, p_feedback_prompt)
  returning id into v_id;
  if p_full_feedback_text is not null then
    update public.analysis_jobs set status = 'completed', processing_completed_at = now()
    where id = p_job_id;
  end if;
  return v_id;
end;
$$;

create or replace function public.store_audio_segment(
  p_analysis_feedback_id bigint, p_ssml text, p_audio_url text,
  p_audio_duration_ms integer default null, p_audio_format text default 'mp3'
) returns bigint
language plpgsql security definer as $$
declare
  v_id bigint;
begin
  insert into public.analysis_audio_segments (analysis_feedback_id, feedback_ssml, audio_url,
                                              audio_duration_ms, audio_format)
  values (p_analysis_feedback_id, p_ssml, p_audio_url, p_audio_duration_ms, p_audio_format)
  returning id into v_id;
  return v_id;
end;
$$;

alter table public.profiles enable row level security;
alter table public.video_recordings enable row level security;
alter table public.analysis_jobs enable row level security;
alter table public.analyses enable row level security;
alter table public.analysis_feedback enable row level security;
alter table public.analysis_audio_segments enable row level security;
alter table public.analysis_metrics enable row level security;
alter table public.upload_sessions enable row level security;

create policy "Public profiles are viewable by everyone" on public.profiles
  for select to authenticated, anon using (true);
create policy "Users can update their own profile" on public.profiles
  for update to authenticated using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Service role can manage all video recordings" on public.video_recordings
  to service_role using (true) with check (true);
create policy "Users can view their own video recordings" on public.video_recordings
  for select to authenticated using ((select auth.uid()) = user_id);
create policy "Users can insert their own video recordings" on public.video_recordings
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy "Users can update their own video recordings" on public.video_recordings
  for update to authenticated using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);
create policy "Users can delete their own video recordings" on public.video_recordings
  for delete to authenticated using ((select auth.uid()) = user_id);

create policy "Service role can manage all analysis jobs" on public.analysis_jobs
  to service_role using (true) with check (true);
create policy "Users can view their own analysis jobs" on public.analysis_jobs
  for select to authenticated using ((select auth.uid()) = user_id);
create policy "Users can insert their own analysis jobs" on public.analysis_jobs
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy "Users can update their own analysis jobs" on public.analysis_jobs
  for update to authenticated using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

create policy "Service role can manage all analyses" on public.analyses
  to service_role using (true) with check (true);
create policy "Users can view analyses for their own jobs" on public.analyses
  for select to authenticated using (exists (
    select 1 from public.analysis_jobs aj
    where aj.id = analyses.job_id and aj.user_id = (select auth.uid())));
create policy "Users can insert analyses for their own jobs" on public.analyses
  for insert to authenticated with check (exists (
    select 1 from public.analysis_jobs aj
    where aj.id = analyses.job_id and aj.user_id = (select auth.uid())));

create policy "Service role can manage all analysis feedback" on public.analysis_feedback
  to service_role using (true) with check (true);
create policy "Users can view feedback for their own analyses" on public.analysis_feedback
  for select to authenticated using (exists (
    select 1 from public.analyses a join public.analysis_jobs aj on aj.id = a.job_id
    where a.id = analysis_feedback.analysis_id and aj.user_id = (select auth.uid())));
create policy "Users can insert feedback for their own analyses" on public.analysis_feedback
  for insert to authenticated with check (exists (
    select 1 from public.analyses a join public.analysis_jobs aj on aj.id = a.job_id
    where a.id = analysis_feedback.analysis_id and aj.user_id = (select auth.uid())));

create policy "Service role can manage all audio segments" on public.analysis_audio_segments
  to service_role using (true) with check (true);
create policy "Users can view audio segments for their own analyses"
  on public.analysis_audio_segments
  for select to authenticated using (exists (
    select 1 from public.analyses a join public.analysis_jobs aj on aj.id = a.job_id
    where a.id = analysis_audio_segments.analysis_id and aj.user_id = (select auth.uid())));

create policy "Service role can manage all analysis metrics" on public.analysis_metrics
  to service_role using (true) with check (true);
create policy "Users can view metrics for their own analyses" on public.analysis_metrics
  for select to authenticated using (exists (
    select 1 from public.analysis_jobs aj
    where aj.id = analysis_metrics.analysis_id and aj.user_id = (select auth.uid())));

create policy "Service role can manage all upload sessions" on public.upload_sessions
  to service_role using (true) with check (true);
create policy "Users can view their own upload sessions" on public.upload_sessions
  for select to authenticated using ((select auth.uid()) = user_id);

grant usage on schema public to anon, authenticated, service_role;
grant all on all tables in schema public to anon, authenticated, service_role;
grant all on all sequences in schema public to anon, authenticated, service_role;
grant all on all functions in schema public to anon, authenticated, service_role;
