-- The app's 20250923000007: objects in `processed` must be .mp3 or .wav audio.
create or replace function public.enforce_processed_mime_whitelist() returns trigger
language plpgsql as $$
declare
  v_ext text := lower(substring(new.name from '(\.[^.]+)$'));
  v_mime text := lower(coalesce(new.metadata ->> 'mimetype', ''));
begin
  if new.bucket_id = 'processed' then
    if v_ext is null or v_ext not in ('.mp3', '.wav') then
      raise exception 'processed bucket currently only accepts .mp3 or .wav files';
    end if;
    if v_mime = '' then
      v_mime := case v_ext when '.mp3' then 'audio/mpeg' else 'audio/wav' end;
      new.metadata := jsonb_set(coalesce(new.metadata, '{}'), '{mimetype}', to_jsonb(v_mime));
    end if;
    if v_mime not in ('audio/mpeg', 'audio/wav', 'audio/x-wav', 'audio/wave') then
      raise exception 'processed bucket currently only accepts audio (got %)', v_mime;
    end if;
  end if;
  return new;
end;
$$;
drop trigger if exists trg_processed_mime_whitelist on storage.objects;
create trigger trg_processed_mime_whitelist before insert or update on storage.objects
  for each row execute function public.enforce_processed_mime_whitelist();
