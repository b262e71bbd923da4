-- start-analysis claims as ssml and audio do: one statement, a PL/pgSQL function that claims
-- the job (cuecast.claim_analysis_jobs, 20251201000001) and returns what the stage needs, the
-- video's owner, path and format, fixing the job's voice snapshot on its first claim. (It was
-- two statements: the claim, then an update of the voice joined to the video.) A job whose
-- video is gone comes back with nulls, for the stage to fail it with a reason.
create function cuecast.claim_analysis(
  p_key bigint, p_lease_seconds double precision, p_max_attempts integer, p_voice jsonb
)
returns table (
  id bigint, key bigint, generation integer, attempts integer,
  user_id text, storage_path text, format text, voice jsonb
)
language plpgsql
rows 1
security definer
set search_path = ''
as $$
declare
  c record;
begin
  select * into c from cuecast.claim_analysis_jobs(p_key, p_lease_seconds, p_max_attempts);
  if c.id is null then
    return;
  end if;
  update public.analysis_jobs as j set voice = coalesce(j.voice, p_voice) where j.id = c.id;
  return query
  select c.id, c.key, c.generation, c.attempts, v.user_id::text, v.storage_path, v.format,
         j.voice
  from public.analysis_jobs as j
  left join public.video_recordings as v on v.id = j.video_recording_id
  where j.id = c.id;
end;
$$;

revoke all on function cuecast.claim_analysis(bigint, double precision, integer, jsonb)
  from public;
grant execute on function cuecast.claim_analysis(bigint, double precision, integer, jsonb)
  to service_role;
