-- What the app reads: a user's feedback items in order, each with its audio segments in
-- order, the audio exposed only once both the item's SSML and audio are completed.
-- security_invoker: the view runs with the caller's rights, so the tables' RLS applies.
-- `audio_url` is the object path in bucket `processed`.
create view public.feedback_items_with_audio
with (security_invoker = true)
as
select
  f.id as feedback_id,
  f.analysis_job_id,
  j.video_recording_id,
  v.user_id,
  f.item_index,
  f.timestamp_seconds,
  f.category,
  f.message,
  f.confidence,
  f.impact,
  f.ssml_status,
  f.audio_status,
  (f.ssml_status = 'completed' and f.audio_status = 'completed') as audio_ready,
  case
    when f.ssml_status = 'completed' and f.audio_status = 'completed' then
      coalesce((
        select jsonb_agg(
                 jsonb_build_object(
                   'segment_index', a.segment_index,
                   'audio_url', a.audio_url,
                   'format', a.format,
                   'duration_ms', a.duration_ms)
                 order by a.segment_index)
        from public.analysis_audio_segments as a
        where a.feedback_id = f.id), '[]'::jsonb)
    else '[]'::jsonb
  end as audio_segments
from public.analysis_feedback as f
join public.analysis_jobs as j on j.id = f.analysis_job_id
join public.video_recordings as v on v.id = j.video_recording_id
order by f.analysis_job_id, f.item_index;

revoke all on public.feedback_items_with_audio from public, anon, authenticated;
grant select on public.feedback_items_with_audio to authenticated, service_role;

-- Realtime: the app follows progress and items as they change.
do $migration$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    raise notice 'no supabase_realtime publication: realtime skipped';
    return;
  end if;
  if not exists (select 1 from pg_publication_tables
                 where pubname = 'supabase_realtime'
                   and schemaname = 'public' and tablename = 'analysis_jobs') then
    alter publication supabase_realtime add table public.analysis_jobs;
  end if;
  if not exists (select 1 from pg_publication_tables
                 where pubname = 'supabase_realtime'
                   and schemaname = 'public' and tablename = 'analysis_feedback') then
    alter publication supabase_realtime add table public.analysis_feedback;
  end if;
end;
$migration$;
