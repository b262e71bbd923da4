-- The app's 20250923000004: the private `raw` bucket (500 MiB, mp4/mov) and its policies.
-- Its user policies expect object names `raw/<uid>/…` (the app's next migration, after
-- f781bdf8e, corrected that to `<uid>/…`); uploads went through signed upload URLs.
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('raw', 'raw', false, 524288000, array['video/mp4', 'video/quicktime'])
on conflict (id) do update set public = false, file_size_limit = 524288000,
  allowed_mime_types = array['video/mp4', 'video/quicktime'];

create policy "Service role can manage raw files" on storage.objects
  for all to service_role using (bucket_id = 'raw') with check (bucket_id = 'raw');
create policy "Users can upload to own raw folder" on storage.objects
  for insert to authenticated with check (
    bucket_id = 'raw' and auth.role() = 'authenticated'
    and (storage.foldername(name))[1] = 'raw'
    and (storage.foldername(name))[2] = auth.uid()::text);
create policy "Users can manage own raw files" on storage.objects
  for all to authenticated using (
    bucket_id = 'raw' and auth.role() = 'authenticated'
    and (storage.foldername(name))[1] = 'raw'
    and (storage.foldername(name))[2] = auth.uid()::text);
