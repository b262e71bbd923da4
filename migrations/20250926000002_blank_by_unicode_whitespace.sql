-- A blank message is one with nothing to speak, and that must not depend on the database's
-- locale. `[[:space:]]` follows LC_CTYPE: under C.UTF-8 a no-break space is not space, under
-- plain C not even an ideographic one, while the SSML builder (Python's str.split) treats all
-- of Unicode's whitespace as space and drops what XML cannot carry. Such a message was
-- queued, then failed in the SSML stage instead of being `skipped`.
-- cuecast.is_blank names the characters explicitly, exactly those the builder removes:
-- C0 controls and ASCII space, DEL, C1 controls and NO-BREAK SPACE, OGHAM SPACE MARK,
-- U+2000..U+200A, LINE and PARAGRAPH SEPARATOR, NARROW NO-BREAK SPACE, MEDIUM MATHEMATICAL
-- SPACE, IDEOGRAPHIC SPACE, and the noncharacters U+FFFE, U+FFFF.
create function cuecast.is_blank(p_text text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select p_text is null
      or p_text !~ '[^\x01-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufffe\uffff]';
$$;

revoke all on function cuecast.is_blank(text) from public;
grant execute on function cuecast.is_blank(text) to service_role;

-- 20250925000002's functions, with the blank test replaced (nothing else changes).
create or replace function cuecast.feedback_statuses()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if cuecast.is_blank(new.message) then
    new.ssml_status := 'skipped';
    new.audio_status := 'skipped';
  elsif tg_op = 'INSERT' then
    new.ssml_status := 'queued';
    new.audio_status := 'pending';
  elsif new.message is distinct from old.message then
    new.ssml_status := 'queued';
    new.audio_status := case
      when exists (select 1 from public.audio_jobs a where a.feedback_id = new.id) then 'queued'
      else 'pending' end;
  end if;
  return new;
end;
$$;

create or replace function public.enqueue_ssml_job()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and new.message is not distinct from old.message then
    return new;
  end if;
  if cuecast.is_blank(new.message) then
    if tg_op = 'UPDATE' then
      delete from public.ssml_jobs where feedback_id = new.id;
      delete from public.audio_jobs where feedback_id = new.id;
    end if;
    return new;
  end if;
  perform cuecast.enqueue_ssml(new.id);
  if tg_op = 'UPDATE' and exists (select 1 from public.audio_jobs a where a.feedback_id = new.id)
  then
    perform cuecast.enqueue_audio(new.id);
  end if;
  return new;
end;
$$;

-- Items that were queued (or failed) for a message that is blank by this definition say the
-- truth now: skipped, with no jobs.
delete from public.ssml_jobs as j
using public.analysis_feedback as f
where f.id = j.feedback_id and cuecast.is_blank(f.message);
delete from public.audio_jobs as j
using public.analysis_feedback as f
where f.id = j.feedback_id and cuecast.is_blank(f.message);
update public.analysis_feedback
set ssml_status = 'skipped', audio_status = 'skipped'
where cuecast.is_blank(message)
  and (ssml_status <> 'skipped' or audio_status <> 'skipped');
