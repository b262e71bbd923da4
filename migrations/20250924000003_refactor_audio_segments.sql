-- 03: audio segments keep only audio. Existing SSML moves to analysis_ssml_segments first;
-- nothing is lost: duplicate segment indexes are renumbered, not dropped.

-- Renumber the segments of any item whose indexes collide, in (index, id) order.
with colliding as (
  select analysis_feedback_id
  from public.analysis_audio_segments
  group by analysis_feedback_id, segment_index
  having count(*) > 1
), renumbered as (
  select s.id,
         (row_number() over (partition by s.analysis_feedback_id
                             order by s.segment_index, s.id) - 1)::integer as new_index
  from public.analysis_audio_segments as s
  where s.analysis_feedback_id in (select analysis_feedback_id from colliding)
)
update public.analysis_audio_segments as s
set segment_index = r.new_index
from renumbered as r
where s.id = r.id;

-- Move the SSML.
insert into public.analysis_ssml_segments (feedback_id, segment_index, ssml, provider, version, created_at)
select analysis_feedback_id, segment_index, feedback_ssml, provider, version, created_at
from public.analysis_audio_segments
where feedback_ssml ~ '[^[:space:]]'
on conflict (feedback_id, segment_index) do nothing;

-- A row that carried only SSML has nothing left to say once its SSML has moved.
delete from public.analysis_audio_segments
where feedback_audio_url is null or feedback_audio_url !~ '[^[:space:]]';

alter table public.analysis_audio_segments rename column analysis_feedback_id to feedback_id;
alter table public.analysis_audio_segments rename column feedback_audio_url to audio_url;
alter table public.analysis_audio_segments rename column audio_duration_ms to duration_ms;
alter table public.analysis_audio_segments rename column audio_format to format;

alter table public.analysis_audio_segments
  drop column feedback_ssml,
  drop column ssml_prompt,
  drop column audio_prompt,
  alter column audio_url set not null,
  add constraint analysis_audio_segments_segment_index_check check (segment_index >= 0),
  add constraint analysis_audio_segments_duration_ms_check check (duration_ms >= 0),
  add constraint analysis_audio_segments_feedback_segment_key unique (feedback_id, segment_index);
