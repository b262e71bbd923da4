-- Enqueueing is an upsert: it creates the job, or returns it to `queued` with attempts reset
-- and the generation bumped. Item statuses and analysis progress follow their job rows in
-- the same transaction (triggers below), whoever writes them.

create function cuecast.enqueue_ssml(p_feedback_id bigint)
returns bigint
language sql
security definer
set search_path = ''
as $$
  insert into public.ssml_jobs as j (feedback_id, status)
  values (p_feedback_id, 'queued')
  on conflict (feedback_id) do update
    set status = 'queued', attempts = 0, last_error = null, lease_expires_at = null,
        generation = j.generation + 1, due_at = now(), published_at = now()
  returning id;
$$;

create function cuecast.enqueue_audio(p_feedback_id bigint)
returns bigint
language sql
security definer
set search_path = ''
as $$
  insert into public.audio_jobs as j (feedback_id, status)
  values (p_feedback_id, 'queued')
  on conflict (feedback_id) do update
    set status = 'queued', attempts = 0, last_error = null, lease_expires_at = null,
        generation = j.generation + 1, due_at = now(), published_at = now()
  returning id;
$$;

-- The analysis job of a video: created, or re-queued when it failed; a queued, processing
-- or completed job is left alone. Used by the upload trigger and by manual starts.
create function cuecast.ensure_analysis_job(p_video_recording_id bigint)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job_id bigint;
begin
  insert into public.analysis_jobs as j (user_id, video_recording_id, status)
  select v.user_id, v.id, 'queued'
  from public.video_recordings as v
  where v.id = p_video_recording_id
  on conflict (video_recording_id) do update
    set status = 'queued', attempts = 0, error_message = null, lease_expires_at = null,
        generation = j.generation + 1, due_at = now(), published_at = now()
    where j.status = 'failed';
  select id into v_job_id
  from public.analysis_jobs
  where video_recording_id = p_video_recording_id;
  return v_job_id;
end;
$$;

-- 08's trigger, now through ensure_analysis_job.
create or replace function public.trigger_analysis_kickoff()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.upload_status = 'completed'
     and (tg_op = 'INSERT' or old.upload_status is distinct from 'completed') then
    perform cuecast.ensure_analysis_job(new.id);
  end if;
  return new;
end;
$$;

-- Feedback statuses before the row is written: a blank message is not work (`skipped`);
-- a new or changed non-blank message is queued for SSML, and its audio will follow.
create function cuecast.feedback_statuses()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.message is null or new.message !~ '[^[:space:]]' then
    new.ssml_status := 'skipped';
    new.audio_status := 'skipped';
  elsif tg_op = 'INSERT' then
    new.ssml_status := 'queued';
    new.audio_status := 'pending';
  elsif new.message is distinct from old.message then
    new.ssml_status := 'queued';
    new.audio_status := case
      when exists (select 1 from public.audio_jobs a where a.feedback_id = new.id) then 'queued'
      else 'pending' end;
  end if;
  return new;
end;
$$;

create trigger analysis_feedback_statuses
  before insert or update of message on public.analysis_feedback
  for each row execute function cuecast.feedback_statuses();

-- 07's trigger, extended: a changed message re-queues the SSML job and a finished (or
-- running) audio job too; a message made blank withdraws the item's jobs.
create or replace function public.enqueue_ssml_job()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and new.message is not distinct from old.message then
    return new;
  end if;
  if new.message is null or new.message !~ '[^[:space:]]' then
    if tg_op = 'UPDATE' then
      delete from public.ssml_jobs where feedback_id = new.id;
      delete from public.audio_jobs where feedback_id = new.id;
    end if;
    return new;
  end if;
  perform cuecast.enqueue_ssml(new.id);
  if tg_op = 'UPDATE' and exists (select 1 from public.audio_jobs a where a.feedback_id = new.id)
  then
    perform cuecast.enqueue_audio(new.id);
  end if;
  return new;
end;
$$;

-- Job status → item status, in the same transaction. A failed SSML job fails the item's
-- audio too (and a queued audio job waiting on it). `skipped` items stay skipped.
create function cuecast.mirror_ssml_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.analysis_feedback
  set ssml_status = new.status,
      audio_status = case when new.status = 'failed' then 'failed' else audio_status end
  where id = new.feedback_id
    and ssml_status <> 'skipped'
    and (ssml_status is distinct from new.status
         or (new.status = 'failed' and audio_status is distinct from 'failed'));
  if new.status = 'failed' then
    update public.audio_jobs
    set status = 'failed', lease_expires_at = null,
        last_error = 'SSML failed: ' || coalesce(new.last_error, 'unknown error')
    where feedback_id = new.feedback_id and status = 'queued';
  end if;
  return null;
end;
$$;

create function cuecast.mirror_audio_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.analysis_feedback
  set audio_status = new.status
  where id = new.feedback_id
    and audio_status <> 'skipped'
    and audio_status is distinct from new.status;
  return null;
end;
$$;

create trigger ssml_jobs_mirror_status
  after insert or update of status on public.ssml_jobs
  for each row execute function cuecast.mirror_ssml_status();
create trigger audio_jobs_mirror_status
  after insert or update of status on public.audio_jobs
  for each row execute function cuecast.mirror_audio_status();

-- Analysis progress and timings follow the job's status.
create function cuecast.analysis_job_progress()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and new.status is not distinct from old.status then
    return new;
  end if;
  case new.status
    when 'queued' then
      new.progress_percentage := 0;
      new.processing_completed_at := null;
    when 'processing' then
      new.progress_percentage := 10;
      new.processing_started_at := now();
      new.processing_completed_at := null;
    when 'completed' then
      new.progress_percentage := 100;
      new.processing_completed_at := now();
      new.error_message := null;
    when 'failed' then
      new.processing_completed_at := now();
    else
      null;  -- an unknown status is the check constraint's to reject
  end case;
  return new;
end;
$$;

create trigger analysis_jobs_progress
  before insert or update of status on public.analysis_jobs
  for each row execute function cuecast.analysis_job_progress();

revoke all on all functions in schema cuecast from public;

-- Items that existed before the queue get no job here: queueing them is provider work
-- (Gemini, Text-to-Speech) that nobody asked for at rollout. 04 marked them `unrequested`;
-- `cuecast backfill` queues them in bounded batches when wanted, and an edit of a message
-- queues its item as usual.
