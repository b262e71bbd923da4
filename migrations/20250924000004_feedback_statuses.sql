-- 04: each feedback item says where its SSML and its audio stand.
--   pending      nothing asked yet (audio waits for its SSML)
--   queued / processing / completed / failed   mirror the item's job
--   skipped      the message is blank: there is nothing to say (final, never "in progress")
--   unrequested  the item was there before cuecast and has none: nothing will be made for
--                it unless asked (`cuecast backfill`, or an edit of its message)
-- The rows that exist when this runs get the truth: completed where the SSML or the audio
-- exists, unrequested where it does not. On the adopted database the two columns were added
-- by 20250923120001, so this update runs before this file takes its exclusive lock.
do $statuses$
begin
  if not exists (
    select 1 from pg_attribute
    where attrelid = 'public.analysis_feedback'::regclass and attname = 'ssml_status'
      and not attisdropped
  ) then
    alter table public.analysis_feedback
      add column ssml_status text not null default 'pending',
      add column audio_status text not null default 'pending';
  end if;

  update public.analysis_feedback as f
  set ssml_status = case
        when f.message is null or f.message !~ '[^[:space:]]' then 'skipped'
        when exists (select 1 from public.analysis_ssml_segments s where s.feedback_id = f.id)
          then 'completed'
        else 'unrequested' end,
      audio_status = case
        when f.message is null or f.message !~ '[^[:space:]]' then 'skipped'
        when exists (select 1 from public.analysis_audio_segments a where a.feedback_id = f.id)
          then 'completed'
        else 'unrequested' end;
end;
$statuses$;

create index if not exists analysis_feedback_analysis_job_id_idx
  on public.analysis_feedback (analysis_job_id);
create index if not exists analysis_feedback_created_at_idx
  on public.analysis_feedback (created_at);

alter table public.analysis_feedback
  add constraint analysis_feedback_ssml_status_check check (
    ssml_status in ('pending', 'queued', 'processing', 'completed', 'failed', 'skipped',
                    'unrequested')) not valid,
  add constraint analysis_feedback_audio_status_check check (
    audio_status in ('pending', 'queued', 'processing', 'completed', 'failed', 'skipped',
                     'unrequested')) not valid;
