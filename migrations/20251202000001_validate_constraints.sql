-- The constraints the earlier files added NOT VALID, validated now: VALIDATE takes a lock
-- that lets the app read and write while it scans, where adding a checked constraint would
-- have scanned under an exclusive lock (on the adopted database's big tables, seconds).
-- Then NOT NULL for the two feedback columns that got it through a check: with the check
-- validated, SET NOT NULL needs no scan. The checks are dropped in a statement of their own
-- (dropped in the same ALTER, they would not count, and Postgres would scan under the lock).
-- The SSML size check stays NOT VALID on purpose: rows from before it are not re-checked.
do $validate$
declare
  c record;
begin
  for c in
    select conrelid::regclass as tbl, conname
    from pg_constraint
    where not convalidated
      and conrelid in ('public.analysis_feedback'::regclass,
                       'public.analysis_audio_segments'::regclass,
                       'public.analysis_jobs'::regclass,
                       'public.ssml_jobs'::regclass,
                       'public.audio_jobs'::regclass)
    order by conrelid::regclass::text, conname
  loop
    execute format('alter table %s validate constraint %I', c.tbl, c.conname);
  end loop;
end;
$validate$;

alter table public.analysis_feedback
  alter column analysis_job_id set not null,
  alter column item_index set not null;

alter table public.analysis_feedback
  drop constraint if exists analysis_feedback_analysis_job_id_not_null,
  drop constraint analysis_feedback_item_index_not_null;
