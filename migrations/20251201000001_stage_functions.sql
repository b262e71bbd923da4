-- Each stage execution in two statements whose plans the server keeps: the claim with the
-- stage's context, then the finish with the stage's writes, as PL/pgSQL functions.
-- Behind Supabase's transaction pooler cuecast cannot prepare statements, so a plain
-- statement is parsed and planned on every run; the statements of a PL/pgSQL function are
-- planned once per server connection. bench/README.md has what each part costs.

-- An audio job is ready once its item's SSML is completed: used by the audio claim and by
-- the reconciler's queries. PL/pgSQL, so its plan is kept too (a SQL function with a
-- subquery is not inlined, and would be planned on every call).
create function cuecast.ssml_completed(p_feedback_id bigint)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  return exists (
    select 1 from public.analysis_feedback as rf
    where rf.id = p_feedback_id and rf.ssml_status = 'completed'
  );
end;
$$;

-- The claim and the finish of every job table, written once: one text, filled in with the
-- table, the column a message's id matches, the error column and the readiness condition.
--
-- cuecast.claim_<table>(key, lease seconds, max attempts): take the queued, due job for the
-- key in one atomic statement that sets processing, counts the attempt and sets the lease;
-- nothing comes back when it is not claimable now. `rows 1` tells the planner so: at its
-- default guess of 1000 rows it joins the claimed row to whole tables. Its transaction commits without waiting
-- for the WAL flush: a claim that a server crash loses leaves the job queued, to be claimed
-- and run again, which every stage is built for; the finish (flushed) makes every claim
-- before it durable too.
--
-- cuecast.finish_<table>(id, generation, attempts): complete the job, only for the claim
-- that did the work; returns the key, or null when the claim was superseded.
do $template$
declare
  t record;
begin
  for t in
    select * from (values
      ('analysis_jobs', 'id', 'error_message', 'true'),
      ('ssml_jobs', 'feedback_id', 'last_error', 'true'),
      ('audio_jobs', 'feedback_id', 'last_error', 'cuecast.ssml_completed(c.feedback_id)')
    ) as v(job_table, key, error, ready)
  loop
    execute format($sql$
      create function cuecast.claim_%1$s(
        p_key bigint, p_lease_seconds double precision, p_max_attempts integer
      )
      returns table (id bigint, key bigint, generation integer, attempts integer)
      language plpgsql
      rows 1
      security definer
      set search_path = ''
      as $fn$
      begin
        perform pg_catalog.set_config('synchronous_commit', 'off', true);
        return query
        update public.%1$I as j
        set status = 'processing',
            attempts = j.attempts + 1,
            lease_expires_at = now() + make_interval(secs => p_lease_seconds)
        where j.id = (
          select c.id
          from public.%1$I as c
          where c.%2$I = p_key
            and c.status = 'queued'
            and c.due_at <= now()
            and c.attempts < p_max_attempts
            and %4$s
          for update skip locked
        )
        returning j.id, j.%2$I, j.generation, j.attempts;
      end;
      $fn$;

      create function cuecast.finish_%1$s(
        p_id bigint, p_generation integer, p_attempts integer
      )
      returns bigint
      language plpgsql
      security definer
      set search_path = ''
      as $fn$
      declare
        v_key bigint;
      begin
        update public.%1$I as j
        set status = 'completed', lease_expires_at = null, %3$I = null
        where j.id = p_id and j.generation = p_generation and j.attempts = p_attempts
          and j.status = 'processing'
        returning j.%2$I into v_key;
        return v_key;
      end;
      $fn$;
    $sql$, t.job_table, t.key, t.error, t.ready);
  end loop;
end;
$template$;

-- ssml: the claim with what the writer needs (a missing item comes back as nulls, for the
-- stage to fail the job with a reason).
create function cuecast.claim_ssml(
  p_key bigint, p_lease_seconds double precision, p_max_attempts integer
)
returns table (
  id bigint, key bigint, generation integer, attempts integer,
  message text, category text, voice jsonb
)
language plpgsql
rows 1
security definer
set search_path = ''
as $$
begin
  return query
  select c.id, c.key, c.generation, c.attempts, f.message, f.category, aj.voice
  from cuecast.claim_ssml_jobs(p_key, p_lease_seconds, p_max_attempts) as c
  left join public.analysis_feedback as f on f.id = c.key
  left join public.analysis_jobs as aj on aj.id = f.analysis_job_id;
end;
$$;

-- ssml: complete the job, replace the item's segments (0..n-1) and enqueue its audio, for
-- the claim that did the work only; false when it was superseded (nothing written).
create function cuecast.finish_ssml(
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

-- audio: the claim with what synthesis and the object paths need (no segments: empty
-- arrays, for the stage to fail the job with a reason).
create function cuecast.claim_audio(
  p_key bigint, p_lease_seconds double precision, p_max_attempts integer
)
returns table (
  id bigint, key bigint, generation integer, attempts integer,
  analysis_job_id bigint, user_id text, voice jsonb, indexes integer[], ssml text[]
)
language plpgsql
rows 1
security definer
set search_path = ''
as $$
begin
  return query
  select c.id, c.key, c.generation, c.attempts, f.analysis_job_id, v.user_id::text, aj.voice,
         array(select s.segment_index from public.analysis_ssml_segments as s
               where s.feedback_id = c.key order by s.segment_index),
         array(select s.ssml from public.analysis_ssml_segments as s
               where s.feedback_id = c.key order by s.segment_index)
  from cuecast.claim_audio_jobs(p_key, p_lease_seconds, p_max_attempts) as c
  left join public.analysis_feedback as f on f.id = c.key
  left join public.analysis_jobs as aj on aj.id = f.analysis_job_id
  left join public.video_recordings as v on v.id = aj.video_recording_id;
end;
$$;

-- audio: complete the job and replace the item's segment rows, for the claim that did the
-- work only; false when it was superseded (nothing written).
create function cuecast.finish_audio(
  p_id bigint, p_generation integer, p_attempts integer,
  p_indexes integer[], p_urls text[], p_durations integer[],
  p_format text, p_provider text, p_version text
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key bigint := cuecast.finish_audio_jobs(p_id, p_generation, p_attempts);
begin
  if v_key is null then
    return false;
  end if;
  insert into public.analysis_audio_segments as a
    (feedback_id, segment_index, audio_url, format, duration_ms, provider, version)
  select v_key, i.segment_index, i.audio_url, p_format, i.duration_ms, p_provider, p_version
  from unnest(p_indexes, p_urls, p_durations) as i(segment_index, audio_url, duration_ms)
  on conflict (feedback_id, segment_index) do update
    set audio_url = excluded.audio_url, format = excluded.format,
        duration_ms = excluded.duration_ms, provider = excluded.provider,
        version = excluded.version, created_at = now();
  delete from public.analysis_audio_segments as a
  where a.feedback_id = v_key and a.segment_index >= cardinality(p_indexes);
  return true;
end;
$$;

-- The workers' functions: the service role's, nobody else's (as for every function in
-- cuecast: 20250925000002 and 20250925000005).
revoke all on all functions in schema cuecast from public;
grant execute on all functions in schema cuecast to service_role;
