-- 08: a finished upload starts analysis, in the same transaction as the status change.
-- A failed job is re-queued; a queued, processing or completed one is left alone.
-- It replaces the app's own trigger (`create_analysis_job_on_upload_complete`, which inserted
-- a new job on every flip and so left two jobs for a re-uploaded video): one completed upload
-- makes one job.
create or replace function public.trigger_analysis_kickoff()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.upload_status = 'completed'
     and (tg_op = 'INSERT' or old.upload_status is distinct from 'completed') then
    insert into public.analysis_jobs as j (user_id, video_recording_id, status, progress_percentage)
    values (new.user_id, new.id, 'queued', 0)
    on conflict (video_recording_id) do update
      set status = 'queued', progress_percentage = 0, error_message = null
      where j.status = 'failed';
  end if;
  return new;
end;
$$;

revoke all on function public.trigger_analysis_kickoff() from public;

drop trigger if exists video_recordings_analysis_kickoff on public.video_recordings;
create trigger video_recordings_analysis_kickoff
  after insert or update of upload_status on public.video_recordings
  for each row execute function public.trigger_analysis_kickoff();

drop trigger if exists create_analysis_job_on_upload_complete on public.video_recordings;
drop function if exists public.create_analysis_job_on_upload_complete();
