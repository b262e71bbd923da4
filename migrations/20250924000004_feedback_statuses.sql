-- 04: each feedback item says where its SSML and its audio stand.
--   pending      nothing asked yet (audio waits for its SSML)
--   queued / processing / completed / failed   mirror the item's job
--   skipped      the message is blank: there is nothing to say (final, never "in progress")
--   unrequested  the item was there before cuecast and has none: nothing will be made for
--                it unless asked (`cuecast backfill`, or an edit of its message)
-- The rows that exist when this runs get the truth: completed where the SSML or the audio
-- exists, unrequested where it does not, skipped where the message is blank. On the adopted
-- database 20250923120001 added the columns (every old row reading `completed`), so only the
-- rows that are not are written, and before this file alters the table. The SHARE lock
-- first: the app reads on, and no writer can be waiting for one of these rows when the
-- ALTER below asks for its lock (a deadlock).
lock table public.analysis_feedback in share mode;

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

  -- Hash joins over the sets of items with SSML and with audio (work_mem for this file only).
  perform pg_catalog.set_config('work_mem', '256MB', true);
  update public.analysis_feedback as f
  set ssml_status = t.ssml_status, audio_status = t.audio_status
  from (
    select g.id,
           case when g.message is null or g.message !~ '[^[:space:]]' then 'skipped'
                when s.feedback_id is not null then 'completed'
                else 'unrequested' end as ssml_status,
           case when g.message is null or g.message !~ '[^[:space:]]' then 'skipped'
                when a.feedback_id is not null then 'completed'
                else 'unrequested' end as audio_status
    from public.analysis_feedback as g
    left join (select distinct feedback_id from public.analysis_ssml_segments) as s
      on s.feedback_id = g.id
    left join (select distinct feedback_id from public.analysis_audio_segments) as a
      on a.feedback_id = g.id
  ) as t
  where f.id = t.id
    and (f.ssml_status, f.audio_status) is distinct from (t.ssml_status, t.audio_status);

  if to_regclass('public.analysis_feedback_analysis_job_id_idx') is null then
    create index analysis_feedback_analysis_job_id_idx on public.analysis_feedback (analysis_job_id);
  end if;
  if to_regclass('public.analysis_feedback_created_at_idx') is null then
    create index analysis_feedback_created_at_idx on public.analysis_feedback (created_at);
  end if;
end;
$statuses$;

alter table public.analysis_feedback
  add constraint analysis_feedback_ssml_status_check check (
    ssml_status in ('pending', 'queued', 'processing', 'completed', 'failed', 'skipped',
                    'unrequested')) not valid,
  add constraint analysis_feedback_audio_status_check check (
    audio_status in ('pending', 'queued', 'processing', 'completed', 'failed', 'skipped',
                     'unrequested')) not valid;
