-- 07: a feedback item with a message gets an SSML job; a changed message re-queues it.
-- (20250925000002 extends this function with generations and due times.)
create or replace function public.enqueue_ssml_job()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.message is null or new.message !~ '[^[:space:]]' then
    return new;
  end if;
  if tg_op = 'UPDATE' and new.message is not distinct from old.message then
    return new;
  end if;
  insert into public.ssml_jobs (feedback_id, status)
  values (new.id, 'queued')
  on conflict (feedback_id) do update
    set status = 'queued', attempts = 0, last_error = null;
  update public.analysis_feedback set ssml_status = 'queued' where id = new.id;
  return new;
end;
$$;

revoke all on function public.enqueue_ssml_job() from public;

drop trigger if exists analysis_feedback_enqueue_ssml on public.analysis_feedback;
create trigger analysis_feedback_enqueue_ssml
  after insert or update of message on public.analysis_feedback
  for each row execute function public.enqueue_ssml_job();
