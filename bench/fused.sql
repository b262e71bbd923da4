-- A prototype of the proposal "two statements per stage execution" (bench/fused.py): the
-- claim and the load as one autocommit statement, the finish and the save as another. Same
-- predicates as shared/sql/queries.sql (claim_job, finish_job, load_*, upsert_*, delete_*,
-- enqueue_audio); a save only happens for the claim that finished (the `finished` CTE).

-- name: ssml_claim_and_load
with claimed as (
  update public.ssml_jobs as j
  set status = 'processing',
      attempts = j.attempts + 1,
      lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
  where j.id = (
    select c.id
    from public.ssml_jobs as c
    where c.feedback_id = %(key)s
      and c.status = 'queued'
      and c.due_at <= now()
      and c.attempts < %(max_attempts)s
    for update skip locked
  )
  returning j.id, j.feedback_id, j.generation, j.attempts
)
select c.id, c.feedback_id, c.generation, c.attempts, f.message, f.category, aj.voice
from claimed as c
join public.analysis_feedback as f on f.id = c.feedback_id
join public.analysis_jobs as aj on aj.id = f.analysis_job_id

-- name: ssml_finish_and_save
with finished as (
  update public.ssml_jobs
  set status = 'completed', lease_expires_at = null, last_error = null
  where id = %(id)s and generation = %(generation)s and attempts = %(attempts)s
    and status = 'processing'
  returning feedback_id
), saved as (
  insert into public.analysis_ssml_segments as s
    (feedback_id, segment_index, ssml, provider, version)
  select f.feedback_id, i.segment_index, i.ssml, %(provider)s, %(version)s
  from finished as f,
       unnest(%(indexes)s::integer[], %(ssml)s::text[]) as i(segment_index, ssml)
  on conflict (feedback_id, segment_index) do update
    set ssml = excluded.ssml, provider = excluded.provider, version = excluded.version,
        created_at = now()
  returning 1
), trimmed as (
  delete from public.analysis_ssml_segments as s
  using finished as f
  where s.feedback_id = f.feedback_id and s.segment_index >= %(count)s
  returning 1
), audio as (
  select cuecast.enqueue_audio(f.feedback_id) from finished as f
)
select (select count(*) from finished), (select count(*) from audio),
       (select count(*) from saved), (select count(*) from trimmed)

-- name: audio_claim_and_load
with claimed as (
  update public.audio_jobs as j
  set status = 'processing',
      attempts = j.attempts + 1,
      lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
  where j.id = (
    select c.id
    from public.audio_jobs as c
    where c.feedback_id = %(key)s
      and c.status = 'queued'
      and c.due_at <= now()
      and c.attempts < %(max_attempts)s
      and exists (
        select 1 from public.analysis_feedback as rf
        where rf.id = c.feedback_id and rf.ssml_status = 'completed'
      )
    for update skip locked
  )
  returning j.id, j.feedback_id, j.generation, j.attempts
)
select c.id, c.feedback_id, c.generation, c.attempts, f.analysis_job_id, v.user_id::text,
       aj.voice, array_agg(s.segment_index order by s.segment_index),
       array_agg(s.ssml order by s.segment_index)
from claimed as c
join public.analysis_feedback as f on f.id = c.feedback_id
join public.analysis_jobs as aj on aj.id = f.analysis_job_id
join public.video_recordings as v on v.id = aj.video_recording_id
join public.analysis_ssml_segments as s on s.feedback_id = f.id
group by c.id, c.feedback_id, c.generation, c.attempts, f.analysis_job_id, v.user_id, aj.voice

-- name: audio_finish_and_save
with finished as (
  update public.audio_jobs
  set status = 'completed', lease_expires_at = null, last_error = null
  where id = %(id)s and generation = %(generation)s and attempts = %(attempts)s
    and status = 'processing'
  returning feedback_id
), saved as (
  insert into public.analysis_audio_segments as a
    (feedback_id, segment_index, audio_url, format, duration_ms, provider, version)
  select f.feedback_id, i.segment_index, i.audio_url, %(format)s, i.duration_ms,
         %(provider)s, %(version)s
  from finished as f,
       unnest(%(indexes)s::integer[], %(urls)s::text[], %(durations)s::integer[])
         as i(segment_index, audio_url, duration_ms)
  on conflict (feedback_id, segment_index) do update
    set audio_url = excluded.audio_url, format = excluded.format,
        duration_ms = excluded.duration_ms, provider = excluded.provider,
        version = excluded.version, created_at = now()
  returning 1
), trimmed as (
  delete from public.analysis_audio_segments as a
  using finished as f
  where a.feedback_id = f.feedback_id and a.segment_index >= %(count)s
  returning 1
)
select (select count(*) from finished), (select count(*) from saved),
       (select count(*) from trimmed)
