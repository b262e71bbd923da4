-- Buckets `raw` (uploaded videos) and `processed` (feedback audio), private, with the app's
-- access on storage.objects: a signed-in user uploads to and reads raw/<uid>/…, and reads
-- processed/<uid>/…; the functions use the service role. Plain Postgres without a storage
-- schema skips this file's work.
do $migration$
begin
  if to_regclass('storage.buckets') is null or to_regclass('storage.objects') is null then
    raise notice 'no storage schema: buckets and storage policies skipped';
    return;
  end if;

  insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
  values
    ('raw', 'raw', false, 1073741824, array['video/mp4', 'video/quicktime']),
    ('processed', 'processed', false, 52428800, array['audio/mpeg', 'audio/wav'])
  on conflict (id) do nothing;

  drop policy if exists "cuecast raw: owner inserts" on storage.objects;
  drop policy if exists "cuecast raw: owner reads" on storage.objects;
  drop policy if exists "cuecast raw: owner updates" on storage.objects;
  drop policy if exists "cuecast raw: owner deletes" on storage.objects;
  drop policy if exists "cuecast processed: owner reads" on storage.objects;

  create policy "cuecast raw: owner inserts" on storage.objects
    for insert to authenticated
    with check (bucket_id = 'raw'
                and (storage.foldername(name))[1] = (select auth.uid())::text);
  create policy "cuecast raw: owner reads" on storage.objects
    for select to authenticated
    using (bucket_id = 'raw'
           and (storage.foldername(name))[1] = (select auth.uid())::text);
  create policy "cuecast raw: owner updates" on storage.objects
    for update to authenticated
    using (bucket_id = 'raw'
           and (storage.foldername(name))[1] = (select auth.uid())::text)
    with check (bucket_id = 'raw'
                and (storage.foldername(name))[1] = (select auth.uid())::text);
  create policy "cuecast raw: owner deletes" on storage.objects
    for delete to authenticated
    using (bucket_id = 'raw'
           and (storage.foldername(name))[1] = (select auth.uid())::text);
  create policy "cuecast processed: owner reads" on storage.objects
    for select to authenticated
    using (bucket_id = 'processed'
           and (storage.foldername(name))[1] = (select auth.uid())::text);
end;
$migration$;
