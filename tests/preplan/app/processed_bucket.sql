-- The app's 20250923000005: the private `processed` bucket (100 MiB of audio), service role
-- only (the Edge Functions served it through signed URLs).
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('processed', 'processed', false, 104857600,
        array['audio/mpeg', 'audio/wav', 'audio/x-wav', 'audio/wave'])
on conflict (id) do update set public = false, file_size_limit = 104857600,
  allowed_mime_types = array['audio/mpeg', 'audio/wav', 'audio/x-wav', 'audio/wave'];

create policy "Service role can manage processed files" on storage.objects
  for all to service_role using (bucket_id = 'processed') with check (bucket_id = 'processed');
