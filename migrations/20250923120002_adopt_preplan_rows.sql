-- Adopting the app's own database, the rows (see 20250923120001). On cuecast's own base
-- tables this file does nothing.
--
-- What the app's rows become, deterministically and without a silent delete (every row
-- taken out of a live table is kept whole in cuecast.archived_rows, with the reason and
-- without the columns 20250923120001 added):
--   one job per video   the video keeps the job its newest results hang on: the newest job
--                       (created_at, then id) among those with feedback, completed first;
--                       with no feedback anywhere, the newest job. Its other jobs, and all
--                       that hangs on them (analyses, feedback, audio segments, metrics), are
--                       archived and removed, so `analysis_jobs.video_recording_id` can be
--                       unique and the kickoff's upsert has one row to find.
--   one run per job     a job's current analysis is its newest `analyses` row with feedback;
--                       the feedback of its other analyses (an earlier run, which the app
--                       never showed beside the newer one) is archived and removed with its
--                       segments. The `analyses` rows themselves stay.
--   unfinished jobs     jobs the old pipeline left queued or processing are marked failed
--                       with a reason, so nothing starts provider work by itself; `cuecast
--                       replay --stage start-analysis --status failed --requeue` runs them.
--   the job of an item  `analysis_feedback.analysis_job_id` is `analyses.job_id` of its
--                       analysis; `analysis_id` stays for the app's own reads. Items are
--                       numbered within their job by (timestamp_seconds, id).
--
-- Locks: none beyond the rows it changes. The app reads and writes throughout: a row the old
-- writer inserts meanwhile is linked and numbered by 20250923120001's trigger (after the rows
-- numbered here), and the unique indexes and constraints that need this file's work come in
-- 20250923120003, so that nothing here waits for a table lock while holding row locks (a
-- writer waiting for one of those rows would be a deadlock).

do $adopt$
declare
  v_count bigint;
begin
  if to_regclass('public.analyses') is null or not exists (
    select 1 from pg_attribute
    where attrelid = 'public.analysis_feedback'::regclass and attname = 'analysis_id'
      and not attisdropped
  ) then
    return;
  end if;

  -- One job per video.
  create temporary table adopt_dropped_jobs on commit drop as
  with ranked as (
    select j.id, j.video_recording_id,
           row_number() over (
             partition by j.video_recording_id
             order by exists (
                        select 1 from public.analyses as a
                        join public.analysis_feedback as f on f.analysis_id = a.id
                        where a.job_id = j.id) desc,
                      (j.status = 'completed') desc, j.created_at desc, j.id desc) as rank
    from public.analysis_jobs as j
    where j.video_recording_id in (
      select video_recording_id from public.analysis_jobs group by 1 having count(*) > 1)
  )
  select r.id, r.video_recording_id, k.id as kept
  from ranked as r join ranked as k on k.video_recording_id = r.video_recording_id and k.rank = 1
  where r.rank > 1;

  insert into cuecast.archived_rows (table_name, row_id, reason, row_data)
  select 'analysis_jobs', j.id::text,
         format('video %s has several jobs; job %s kept', d.video_recording_id, d.kept),
         to_jsonb(j)
  from public.analysis_jobs as j join adopt_dropped_jobs as d on d.id = j.id;
  get diagnostics v_count = row_count;
  if v_count > 0 then
    create temporary table adopt_dropped_analyses on commit drop as
    select a.id, d.id as job_id, d.kept
    from public.analyses as a join adopt_dropped_jobs as d on d.id = a.job_id;

    insert into cuecast.archived_rows (table_name, row_id, reason, row_data)
    select 'analyses', a.id::text, format('belongs to job %s, not kept (job %s kept)',
                                          d.job_id, d.kept), to_jsonb(a)
    from public.analyses as a join adopt_dropped_analyses as d on d.id = a.id;
    insert into cuecast.archived_rows (table_name, row_id, reason, row_data)
    select 'analysis_feedback', f.id::text,
           format('belongs to job %s, not kept (job %s kept)', d.job_id, d.kept),
           to_jsonb(f) - array['analysis_job_id', 'item_index', 'ssml_status', 'audio_status']
    from public.analysis_feedback as f join adopt_dropped_analyses as d on d.id = f.analysis_id;
    insert into cuecast.archived_rows (table_name, row_id, reason, row_data)
    select distinct on (s.id) 'analysis_audio_segments', s.id::text,
           format('belongs to job %s, not kept (job %s kept)', d.job_id, d.kept),
           to_jsonb(s) - array['segment_index', 'provider', 'version', 'owner_analysis']
    from (
      select s1.*, f.analysis_id as owner_analysis
      from public.analysis_audio_segments as s1
      join public.analysis_feedback as f on f.id = s1.analysis_feedback_id
      where f.analysis_id in (select id from adopt_dropped_analyses)
      union all
      select s2.*, s2.analysis_id
      from public.analysis_audio_segments as s2
      where s2.analysis_id in (select id from adopt_dropped_analyses)
    ) as s
    join adopt_dropped_analyses as d on d.id = s.owner_analysis
    order by s.id;
    insert into cuecast.archived_rows (table_name, row_id, reason, row_data)
    select 'analysis_metrics', m.id::text,
           format('belongs to job %s, not kept (job %s kept)', d.id, d.kept), to_jsonb(m)
    from public.analysis_metrics as m join adopt_dropped_jobs as d on d.id = m.analysis_id;

    delete from public.analysis_jobs where id in (select id from adopt_dropped_jobs);
    raise notice 'adoption: % duplicate analysis jobs archived and removed (one job per video kept)',
      v_count;
  end if;

  -- One run per job.
  create temporary table adopt_superseded_feedback on commit drop as
  with current_analysis as (
    select distinct on (a.job_id) a.job_id, a.id
    from public.analyses as a
    where a.job_id in (select job_id from public.analyses group by 1 having count(*) > 1)
      and exists (select 1 from public.analysis_feedback as f where f.analysis_id = a.id)
    order by a.job_id, a.created_at desc, a.id desc
  )
  select f.id, c.job_id, c.id as current_analysis
  from public.analysis_feedback as f
  join public.analyses as a on a.id = f.analysis_id
  join current_analysis as c on c.job_id = a.job_id
  where f.analysis_id <> c.id;

  insert into cuecast.archived_rows (table_name, row_id, reason, row_data)
  select 'analysis_audio_segments', s.id::text,
         format('an earlier run of job %s (analysis %s is current)', x.job_id,
                x.current_analysis), to_jsonb(s) - array['segment_index', 'provider', 'version']
  from public.analysis_audio_segments as s
  join adopt_superseded_feedback as x on x.id = s.analysis_feedback_id;
  insert into cuecast.archived_rows (table_name, row_id, reason, row_data)
  select 'analysis_feedback', f.id::text,
         format('an earlier run of job %s (analysis %s is current)', x.job_id,
                x.current_analysis),
         to_jsonb(f) - array['analysis_job_id', 'item_index', 'ssml_status', 'audio_status']
  from public.analysis_feedback as f join adopt_superseded_feedback as x on x.id = f.id;
  get diagnostics v_count = row_count;
  if v_count > 0 then
    delete from public.analysis_feedback where id in (select id from adopt_superseded_feedback);
    raise notice 'adoption: % feedback items of earlier runs archived and removed', v_count;
  end if;

  -- Nothing the old pipeline left unfinished starts by itself.
  update public.analysis_jobs
  set status = 'failed',
      error_message = 'left ' || status || ' by the pre-plan pipeline when cuecast was installed;'
        || ' `cuecast replay --stage start-analysis --status failed --requeue` runs it'
  where status in ('queued', 'processing');
  get diagnostics v_count = row_count;
  if v_count > 0 then
    raise notice 'adoption: % unfinished analysis jobs marked failed (none is re-run by itself)',
      v_count;
  end if;

  -- The job of every item, and its place in the job (items the trigger already linked, written
  -- since 20250923120001, have both). The numbering sorts every item: work_mem for this file.
  perform pg_catalog.set_config('work_mem', '256MB', true);
  update public.analysis_feedback as f
  set analysis_job_id = n.job_id, item_index = n.item_index
  from (
    select f2.id, a.job_id,
           (row_number() over (partition by a.job_id
                               order by f2.timestamp_seconds, f2.id) - 1)::integer as item_index
    from public.analysis_feedback as f2
    join public.analyses as a on a.id = f2.analysis_id
    where f2.item_index is null
  ) as n
  where f.id = n.id;
end;
$adopt$;

-- The app's SECURITY DEFINER writers bypass RLS and were executable by anon and
-- authenticated; cuecast's workers own these tables' rows now (the app writes only its
-- videos). Readers are left to the app.
do $adopt$
declare
  v_fn text;
begin
  foreach v_fn in array array[
    'public.store_analysis_results(bigint, text, text, text, jsonb, text)',
    'public.store_analysis_results(bigint, text, text, text, jsonb)',
    'public.store_enhanced_analysis_results(bigint, text, text, text, text, bigint, text, jsonb, jsonb)',
    'public.store_audio_segment(bigint, text, text, integer, text)',
    'public.store_analysis_audio_segment(uuid, text, text, integer, text, text, text)',
    'public.store_analysis_audio_segment_for_feedback(uuid, bigint, text, text, integer, text, text, text)',
    'public.backfill_analyses_from_jobs()',
    'public.migrate_results_to_metrics()'
  ] loop
    if to_regprocedure(v_fn) is not null then
      execute format('revoke execute on function %s from public, anon, authenticated', v_fn);
    end if;
  end loop;
end;
$adopt$;
