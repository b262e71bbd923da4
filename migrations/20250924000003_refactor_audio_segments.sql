-- 03: audio segments keep only audio: id, feedback_id, segment_index, audio_url, format,
-- duration_ms, provider, version, created_at, unique (feedback_id, segment_index).
-- It runs on both starting points: cuecast's base table (`feedback_audio_url`) and the app's
-- (`audio_url` already, no segment index before 20250923120001, retries as extra rows).
-- Nothing is lost:
--   * the whole table as it was (every rendition, its SSML, prompts and audio) is copied to
--     cuecast.preplan_audio_segments first, when it holds rows;
--   * an item (or a segment of an item) with several renditions plays one, the newest
--     (created_at, then id); the older ones leave the live table, never to be played as
--     extra segments;
--   * the SSML of what plays, with its prompt, moves to analysis_ssml_segments;
--   * a row without audio (SSML only) leaves the live table after its SSML has moved.
-- Row work first, under a SHARE lock (the app reads on; writes to the table wait, and none
-- can be waiting for one of these rows when the renames ask for their exclusive lock, last).
create schema if not exists cuecast;
lock table public.analysis_audio_segments in share mode;

do $refactor$
declare
  v_url text := case when exists (
      select 1 from pg_attribute
      where attrelid = 'public.analysis_audio_segments'::regclass
        and attname = 'feedback_audio_url' and not attisdropped)
    then 'feedback_audio_url' else 'audio_url' end;
  v_count bigint;
begin
  if not exists (select 1 from public.analysis_audio_segments) then
    return;
  end if;

  create table cuecast.preplan_audio_segments as table public.analysis_audio_segments;
  comment on table cuecast.preplan_audio_segments is
    'analysis_audio_segments as it was before migration 20250924000003 (every rendition)';

  delete from public.analysis_audio_segments as s
  using (
    select id, row_number() over (partition by analysis_feedback_id, segment_index
                                  order by created_at desc, id desc) as rendition
    from public.analysis_audio_segments
  ) as r
  where s.id = r.id and r.rendition > 1;
  get diagnostics v_count = row_count;
  if v_count > 0 then
    raise notice '03: % older renditions left the live table (kept in cuecast.preplan_audio_segments)',
      v_count;
  end if;

  insert into public.analysis_ssml_segments
    (feedback_id, segment_index, ssml, ssml_prompt, provider, version, created_at)
  select analysis_feedback_id, segment_index, feedback_ssml, ssml_prompt,
         coalesce(provider, 'gemini'), version, created_at
  from public.analysis_audio_segments
  where feedback_ssml ~ '[^[:space:]]'
  on conflict (feedback_id, segment_index) do nothing;

  execute format(
    'delete from public.analysis_audio_segments where %1$I is null or %1$I !~ %2$L',
    v_url, '[^[:space:]]');
end;
$refactor$;

create unique index if not exists analysis_audio_segments_feedback_segment_key
  on public.analysis_audio_segments (analysis_feedback_id, segment_index);

do $refactor$
begin
  if exists (
    select 1 from pg_attribute
    where attrelid = 'public.analysis_audio_segments'::regclass
      and attname = 'feedback_audio_url' and not attisdropped
  ) then
    alter table public.analysis_audio_segments rename column feedback_audio_url to audio_url;
  end if;
  if exists (
    select 1 from pg_constraint
    where conrelid = 'public.analysis_audio_segments'::regclass
      and conname = 'analysis_audio_segments_audio_format_check'
  ) then
    alter table public.analysis_audio_segments rename constraint
      analysis_audio_segments_audio_format_check to analysis_audio_segments_format_check;
  else
    alter table public.analysis_audio_segments add constraint
      analysis_audio_segments_format_check check (audio_format in ('mp3', 'aac', 'wav')) not valid;
  end if;
end;
$refactor$;

alter table public.analysis_audio_segments rename column analysis_feedback_id to feedback_id;
alter table public.analysis_audio_segments rename column audio_duration_ms to duration_ms;
alter table public.analysis_audio_segments rename column audio_format to format;

alter table public.analysis_audio_segments
  drop column feedback_ssml,
  drop column ssml_prompt,
  drop column audio_prompt,
  alter column audio_url set not null,
  alter column segment_index set default 0,
  alter column format drop default,
  add constraint analysis_audio_segments_segment_index_check check (segment_index >= 0) not valid,
  add constraint analysis_audio_segments_duration_ms_check check (duration_ms >= 0) not valid,
  add constraint analysis_audio_segments_feedback_segment_key
    unique using index analysis_audio_segments_feedback_segment_key;
