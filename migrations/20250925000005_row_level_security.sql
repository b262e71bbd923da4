-- Security lives here. Every public table has RLS; a signed-in user reads only rows that
-- trace to a video_recordings row of their own; the owner reads (never writes) its analysis
-- job; ssml_jobs and audio_jobs are service-role only; anon reads nothing.
-- Supabase grants anon and authenticated everything on new public tables by default, so the
-- grants are set explicitly here and RLS is the second wall.

-- On the adopted database the app's own policies on these tables go first: they let users
-- write jobs, feedback and segments, and keyed ownership on analysis_jobs.user_id rather than
-- on the video. cuecast's policies below are the one definition (docs/migrations.md lists
-- what they replace); `analyses`, the app's table that feedback still points to, is governed
-- the same way.
do $migration$
declare
  p record;
begin
  -- Writers of these tables wait from here to the commit (milliseconds); readers until the
  -- ALTERs below. Up front, parents first as the app writes them (20250925000001).
  execute (
    select 'lock table ' || string_agg(format('public.%I', t), ', ' order by n)
           || ' in share row exclusive mode'
    from unnest(array['video_recordings', 'analysis_jobs', 'analyses', 'analysis_feedback',
                      'analysis_ssml_segments', 'analysis_audio_segments', 'ssml_jobs',
                      'audio_jobs']) with ordinality as u(t, n)
    where to_regclass(format('public.%I', t)) is not null
  );
  for p in
    select tablename, policyname from pg_policies
    where schemaname = 'public'
      and tablename in ('video_recordings', 'analysis_jobs', 'analyses', 'analysis_feedback',
                        'analysis_ssml_segments', 'analysis_audio_segments', 'ssml_jobs',
                        'audio_jobs')
  loop
    execute format('drop policy %I on public.%I', p.policyname, p.tablename);
  end loop;
end;
$migration$;

alter table public.video_recordings enable row level security;
alter table public.analysis_jobs enable row level security;
alter table public.analysis_feedback enable row level security;
alter table public.analysis_ssml_segments enable row level security;
alter table public.analysis_audio_segments enable row level security;
alter table public.ssml_jobs enable row level security;
alter table public.audio_jobs enable row level security;

revoke all on public.video_recordings, public.analysis_jobs, public.analysis_feedback,
  public.analysis_ssml_segments, public.analysis_audio_segments, public.ssml_jobs,
  public.audio_jobs
  from public, anon, authenticated;

grant select, insert, update, delete on public.video_recordings to authenticated;
grant usage on sequence public.video_recordings_id_seq to authenticated;
grant select on public.analysis_jobs, public.analysis_feedback, public.analysis_ssml_segments,
  public.analysis_audio_segments
  to authenticated;

grant all on public.video_recordings, public.analysis_jobs, public.analysis_feedback,
  public.analysis_ssml_segments, public.analysis_audio_segments, public.ssml_jobs,
  public.audio_jobs
  to service_role;
grant usage, select, update on sequence public.video_recordings_id_seq,
  public.analysis_jobs_id_seq, public.analysis_feedback_id_seq,
  public.analysis_ssml_segments_id_seq, public.analysis_audio_segments_id_seq,
  public.ssml_jobs_id_seq, public.audio_jobs_id_seq
  to service_role;

-- Ownership checks for the policies below. SECURITY DEFINER so a policy does not recurse
-- through the other tables' policies; each checks auth.uid() itself.
create function cuecast.owns_analysis_job(p_analysis_job_id bigint)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from public.analysis_jobs as j
    join public.video_recordings as v on v.id = j.video_recording_id
    where j.id = p_analysis_job_id and v.user_id = (select auth.uid()));
$$;

create function cuecast.owns_feedback(p_feedback_id bigint)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from public.analysis_feedback as f
    join public.analysis_jobs as j on j.id = f.analysis_job_id
    join public.video_recordings as v on v.id = j.video_recording_id
    where f.id = p_feedback_id and v.user_id = (select auth.uid()));
$$;

revoke all on function cuecast.owns_analysis_job(bigint), cuecast.owns_feedback(bigint)
  from public;
grant usage on schema cuecast to authenticated, service_role;
grant execute on function cuecast.owns_analysis_job(bigint), cuecast.owns_feedback(bigint)
  to authenticated;
grant execute on all functions in schema cuecast to service_role;

create policy video_recordings_owner_select on public.video_recordings
  for select to authenticated using (user_id = (select auth.uid()));
create policy video_recordings_owner_insert on public.video_recordings
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy video_recordings_owner_update on public.video_recordings
  for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
create policy video_recordings_owner_delete on public.video_recordings
  for delete to authenticated using (user_id = (select auth.uid()));

create policy analysis_jobs_owner_select on public.analysis_jobs
  for select to authenticated using (cuecast.owns_analysis_job(id));
create policy analysis_feedback_owner_select on public.analysis_feedback
  for select to authenticated using (cuecast.owns_analysis_job(analysis_job_id));
create policy analysis_ssml_segments_owner_select on public.analysis_ssml_segments
  for select to authenticated using (cuecast.owns_feedback(feedback_id));
create policy analysis_audio_segments_owner_select on public.analysis_audio_segments
  for select to authenticated using (cuecast.owns_feedback(feedback_id));
-- ssml_jobs and audio_jobs: no policy for anyone but the service role (which bypasses RLS).

-- The adopted database's `analyses`: read by its owner, written by the service role only.
do $migration$
begin
  if to_regclass('public.analyses') is null then
    return;
  end if;
  alter table public.analyses enable row level security;
  revoke all on public.analyses from public, anon, authenticated;
  grant select on public.analyses to authenticated;
  grant all on public.analyses to service_role;
  create policy analyses_owner_select on public.analyses
    for select to authenticated using (cuecast.owns_analysis_job(job_id));
end;
$migration$;
