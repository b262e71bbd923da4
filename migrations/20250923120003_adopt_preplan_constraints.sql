-- Adopting the app's own database, the constraints its rows now meet (see 20250923120001
-- and 20250923120002; on cuecast's own base tables this file does nothing). A file of its
-- own, holding no row locks, so that the table locks these take can wait for the app's
-- statements without a deadlock: the index builds block writes (not reads) to their table
-- while they run, and the constraints come NOT VALID (validated by 20251202000001, without
-- blocking anyone), each under an exclusive lock held for milliseconds.
do $adopt$
begin
  if to_regclass('public.analyses') is null or not exists (
    select 1 from pg_attribute
    where attrelid = 'public.analysis_feedback'::regclass and attname = 'analysis_id'
      and not attisdropped
  ) then
    return;
  end if;

  -- Writers of the two wait from here to the commit; readers do not (see 20250925000001).
  lock table public.analysis_jobs, public.analysis_feedback in share row exclusive mode;

  create unique index analysis_jobs_video_recording_id_key
    on public.analysis_jobs (video_recording_id);
  create index analysis_feedback_analysis_job_id_idx on public.analysis_feedback (analysis_job_id);
  create unique index analysis_feedback_job_item_key
    on public.analysis_feedback (analysis_job_id, item_index);

  alter table public.analysis_jobs
    add constraint analysis_jobs_video_recording_id_key
      unique using index analysis_jobs_video_recording_id_key;
  alter table public.analysis_feedback
    add constraint analysis_feedback_analysis_job_id_fkey foreign key (analysis_job_id)
      references public.analysis_jobs (id) on delete cascade not valid,
    add constraint analysis_feedback_analysis_job_id_not_null
      check (analysis_job_id is not null) not valid;
end;
$adopt$;
