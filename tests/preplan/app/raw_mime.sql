-- The app's 20250923000006: objects in `raw` must be .mp4 or .mov, of a video mime type
-- (inferred from the extension when the upload set none).
create or replace function public.enforce_video_mime_whitelist() returns trigger
language plpgsql as $$
declare
  v_ext text := lower(substring(new.name from '(\.[^.]+)$'));
  v_mime text := lower(coalesce(new.metadata ->> 'mimetype', ''));
begin
  if new.bucket_id = 'raw' then
    if v_ext is null or v_ext not in ('.mp4', '.mov') then
      raise exception 'raw bucket only accepts .mp4 or .mov files';
    end if;
    if v_mime = '' then
      v_mime := case v_ext when '.mp4' then 'video/mp4' else 'video/quicktime' end;
      new.metadata := jsonb_set(coalesce(new.metadata, '{}'), '{mimetype}', to_jsonb(v_mime));
    end if;
    if v_mime not in ('video/mp4', 'video/quicktime') then
      raise exception 'raw bucket only accepts video/mp4 or video/quicktime (got %)', v_mime;
    end if;
  end if;
  return new;
end;
$$;
drop trigger if exists trg_raw_mime_whitelist on storage.objects;
create trigger trg_raw_mime_whitelist before insert or update on storage.objects
  for each row execute function public.enforce_video_mime_whitelist();
