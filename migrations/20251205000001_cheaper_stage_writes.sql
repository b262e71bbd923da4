-- Three costs of every item on the stage path (issue 17; bench/README.md, "What moved the
-- numbers"). What the app sees does not change:
--
-- 1. An SSML job's completion writes the item's row once, not twice. finish_ssml completes
--    the job and, in the same transaction, queues the item's audio; each write's status
--    mirror updated the feedback row (ssml_status `completed`, then audio_status `queued`),
--    two row versions that nobody could see apart. The SSML mirror now sets both, and the
--    audio job's mirror finds nothing left to change.
-- 2. cuecast.enqueue_audio is PL/pgSQL instead of SQL: a SQL function with SET is never
--    inlined, and its statement was planned on every call (every SSML finish); PL/pgSQL
--    keeps the plan per server connection.
-- 3. finish_ssml commits without waiting for the WAL flush, as the claims do (20251201000001).
--    Its results are the pipeline's own intermediate state: the audio stage reads them, and
--    the audio finish, which waits for the flush, makes them durable with it (WAL is flushed
--    in order). Realtime streams only flushed WAL, so the app never sees a completion that a
--    server crash takes back. Such a crash can lose the commit of an SSML finish made in the
--    last moments before it (the WAL writer flushes within 3 x wal_writer_delay, 600 ms by
--    default, and every flushed commit after it flushes it too): the job is then
--    `processing` again, its lease expires, and the reconciler runs it again; an audio
--    doorbell already published for it finds no audio job and is acknowledged. One SSML
--    written twice after a server crash, for one WAL flush less per item.
--
-- `create or replace` keeps each function's owner and grants (the service role's only).

-- 20250925000002's mirror, with the completed case added.
create or replace function cuecast.mirror_ssml_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.analysis_feedback
  set ssml_status = new.status,
      audio_status = case
        when new.status = 'failed' then 'failed'
        -- finish_ssml (the only writer of `completed`) queues the audio in this transaction
        when new.status = 'completed' then 'queued'
        else audio_status end
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

-- 20251203000001's enqueue_audio, the same statement in PL/pgSQL.
create or replace function cuecast.enqueue_audio(p_feedback_id bigint)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id bigint;
begin
  insert into public.audio_jobs as j (feedback_id, status)
  values (p_feedback_id, 'queued')
  on conflict (feedback_id) do update
    set status = 'queued', attempts = 0, last_error = null, lease_expires_at = null,
        generation = j.generation + case when j.status = 'queued' then 0 else 1 end,
        due_at = now(), published_at = now()
  returning id into v_id;
  return v_id;
end;
$$;

-- 20251201000001's finish_ssml, committing without the flush (3. above).
create or replace function cuecast.finish_ssml(
  p_id bigint, p_generation integer, p_attempts integer,
  p_provider text, p_version text, p_indexes integer[], p_ssml text[]
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key bigint := cuecast.finish_ssml_jobs(p_id, p_generation, p_attempts);
begin
  if v_key is null then
    return false;
  end if;
  perform pg_catalog.set_config('synchronous_commit', 'off', true);
  insert into public.analysis_ssml_segments as s
    (feedback_id, segment_index, ssml, provider, version)
  select v_key, i.segment_index, i.ssml, p_provider, p_version
  from unnest(p_indexes, p_ssml) as i(segment_index, ssml)
  on conflict (feedback_id, segment_index) do update
    set ssml = excluded.ssml, provider = excluded.provider, version = excluded.version,
        created_at = now();
  delete from public.analysis_ssml_segments as s
  where s.feedback_id = v_key and s.segment_index >= cardinality(p_indexes);
  perform cuecast.enqueue_audio(v_key);
  return true;
end;
$$;
