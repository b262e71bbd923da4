-- The app's 20250923000001: no `feedback_audio_url` (the column is `audio_url`), and a writer
-- that links a segment to both its analysis and its feedback item.
alter table public.analysis_audio_segments drop column if exists feedback_audio_url;

create or replace function public.store_analysis_audio_segment_for_feedback(
  p_analysis_id uuid, p_analysis_feedback_id bigint, p_feedback_ssml text, p_audio_url text,
  p_audio_duration_ms integer default null, p_audio_format text default 'mp3',
  p_ssml_prompt text default null, p_audio_prompt text default null
) returns bigint
language plpgsql security definer as $$
declare
  v_id bigint;
begin
  insert into public.analysis_audio_segments (analysis_id, analysis_feedback_id, feedback_ssml,
    audio_url, audio_duration_ms, audio_format, ssml_prompt, audio_prompt)
  values (p_analysis_id, p_analysis_feedback_id, p_feedback_ssml, p_audio_url,
          p_audio_duration_ms, p_audio_format, p_ssml_prompt, p_audio_prompt)
  returning id into v_id;
  return v_id;
end;
$$;
grant all on function public.store_analysis_audio_segment_for_feedback(
  uuid, bigint, text, text, integer, text, text, text) to anon, authenticated, service_role;
