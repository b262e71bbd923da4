-- Adopting the app's own database. The app the action plan was written for (its pre-plan
-- schema: JohnSchweden/sololevel, supabase/migrations at f781bdf8e) keeps feedback under
-- `analyses` (uuid) through `analysis_id`, keeps SSML and prompts on its audio segments, which
-- have no segment index, and allows several analysis jobs per video. This file and the next
-- give those tables what the plan's migrations expect; on cuecast's own base tables (a fresh
-- project) they do nothing but create the archive (docs/migrations.md, "Two starting points").
--
-- This file only adds columns that need no table rewrite (nullable, or a constant default)
-- and one trigger, so the exclusive lock each ALTER takes is held for milliseconds. The row
-- work is in 20250923120002, which takes no lock that stops the app reading.

create schema if not exists cuecast;
revoke all on schema cuecast from public;

-- Rows the adoption takes out of the live tables (duplicate jobs, superseded runs), each
-- whole as it was, with why. Nothing is deleted without a row here.
create table if not exists cuecast.archived_rows (
  id bigint generated always as identity primary key,
  table_name text not null,
  row_id text not null,
  reason text not null,
  row_data jsonb not null,
  archived_at timestamptz not null default now()
);

do $adopt$
begin
  if to_regclass('public.analyses') is null or not exists (
    select 1 from pg_attribute
    where attrelid = 'public.analysis_feedback'::regclass and attname = 'analysis_id'
      and not attisdropped
  ) then
    return;  -- cuecast's own base tables: nothing to adopt
  end if;

  -- Writers of the two tables wait from here to the commit (milliseconds); readers do not.
  -- Child table first: a writer of a segment locks its feedback row too, so it is never
  -- holding one of these while waiting for the other (docs/migrations.md, "Locks").
  lock table public.analysis_audio_segments, public.analysis_feedback in share row exclusive mode;

  -- analysis_job_id and item_index are filled by 20250923120002. The statuses are added here
  -- with the default `completed`, which every existing row then reads without a rewrite (a
  -- column default is stored once, not per row), and the default for new rows becomes
  -- `pending` at once. 04 then writes only the rows that are not completed (no SSML or
  -- audio, or a blank message): a tenth of a million-row table instead of all of it.
  alter table public.analysis_feedback
    add column if not exists analysis_job_id bigint,
    add column if not exists item_index integer,
    add column if not exists ssml_status text not null default 'completed',
    add column if not exists audio_status text not null default 'completed';
  alter table public.analysis_feedback
    alter column ssml_status set default 'pending',
    alter column audio_status set default 'pending';

  -- Every existing segment is its item's only segment (index 0); 03 keeps one rendition per
  -- item and builds the unique index before it renames anything.
  alter table public.analysis_audio_segments
    add column if not exists segment_index integer not null default 0,
    add column if not exists provider text,
    add column if not exists version text;

  -- Feedback written from here on by either side links both ways: cuecast's workers write
  -- `analysis_job_id` and get the job's current analysis (made if there is none); the app's
  -- old writer (the `ai-analyze-video` Edge Function, until it is retired) writes
  -- `analysis_id` and gets the job, and an item index after the job's last.
  create or replace function cuecast.link_feedback_to_analysis()
  returns trigger
  language plpgsql
  security definer
  set search_path = ''
  as $fn$
  begin
    if new.analysis_job_id is null and new.analysis_id is not null then
      select a.job_id into new.analysis_job_id from public.analyses as a
      where a.id = new.analysis_id;
    elsif new.analysis_id is null and new.analysis_job_id is not null then
      select a.id into new.analysis_id from public.analyses as a
      where a.job_id = new.analysis_job_id
      order by a.created_at desc, a.id desc
      limit 1;
      if new.analysis_id is null then
        insert into public.analyses (job_id) values (new.analysis_job_id)
        returning id into new.analysis_id;
      end if;
    end if;
    -- After the job's last item; while 20250923120002 has not numbered the job's older
    -- items yet (it gives them 0..n-1), after those n.
    if new.item_index is null and new.analysis_job_id is not null then
      select coalesce(max(f.item_index) + 1, count(*)) into new.item_index
      from public.analysis_feedback as f
      join public.analyses as a on a.id = f.analysis_id
      where a.job_id = new.analysis_job_id;
    end if;
    return new;
  end;
  $fn$;
  revoke all on function cuecast.link_feedback_to_analysis() from public;

  drop trigger if exists analysis_feedback_link_analysis on public.analysis_feedback;
  create trigger analysis_feedback_link_analysis
    before insert on public.analysis_feedback
    for each row execute function cuecast.link_feedback_to_analysis();
end;
$adopt$;
