-- Buckets `raw` (uploaded videos) and `processed` (feedback audio), private, with the app's
-- access on storage.objects: a signed-in user uploads to and reads raw/<uid>/…, and reads
-- processed/<uid>/…; the functions use the service role.
--
-- Where the buckets exist already (the app's database) their size limits and mime types are
-- kept as they are; a fresh project gets the app's values (500 MiB of mp4/mov, 100 MiB of
-- audio). A cuecast policy is created only where no other policy already gives signed-in
-- users that command on that bucket, so the app's own policies are neither duplicated nor
-- contradicted (on the app's database: its raw policies stay, and cuecast adds the owner's
-- read of processed/<uid>/…, which it had not). Plain Postgres without a storage schema
-- skips this file; a role that may not create policies on storage.objects (newer hosted
-- projects) gets a warning naming the policies to create in the dashboard.
do $migration$
declare
  p record;
  v_skipped text[] := '{}';
begin
  if to_regclass('storage.buckets') is null or to_regclass('storage.objects') is null then
    raise notice 'no storage schema: buckets and storage policies skipped';
    return;
  end if;

  insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
  values
    ('raw', 'raw', false, 524288000, array['video/mp4', 'video/quicktime']),
    ('processed', 'processed', false, 104857600,
     array['audio/mpeg', 'audio/wav', 'audio/x-wav', 'audio/wave'])
  on conflict (id) do nothing;

  for p in
    select * from (values
      ('cuecast raw: owner inserts', 'raw', 'INSERT', null,
       'bucket_id = ''raw'' and (storage.foldername(name))[1] = (select auth.uid())::text'),
      ('cuecast raw: owner reads', 'raw', 'SELECT',
       'bucket_id = ''raw'' and (storage.foldername(name))[1] = (select auth.uid())::text', null),
      ('cuecast raw: owner updates', 'raw', 'UPDATE',
       'bucket_id = ''raw'' and (storage.foldername(name))[1] = (select auth.uid())::text',
       'bucket_id = ''raw'' and (storage.foldername(name))[1] = (select auth.uid())::text'),
      ('cuecast raw: owner deletes', 'raw', 'DELETE',
       'bucket_id = ''raw'' and (storage.foldername(name))[1] = (select auth.uid())::text', null),
      ('cuecast processed: owner reads', 'processed', 'SELECT',
       'bucket_id = ''processed'' and (storage.foldername(name))[1] = (select auth.uid())::text',
       null)
    ) as v(name, bucket, command, using_expr, check_expr)
  loop
    if exists (
      select 1 from pg_policies as e
      where e.schemaname = 'storage' and e.tablename = 'objects'
        and e.policyname not like 'cuecast %'
        and e.cmd in (p.command, 'ALL')
        and e.roles && array['authenticated', 'public']::name[]
        and coalesce(e.qual, '') || coalesce(e.with_check, '')
            like '%bucket_id = ''' || p.bucket || '''::text%'
    ) then
      raise notice 'storage: % not created, an existing policy gives signed-in users % on %',
        p.name, p.command, p.bucket;
      continue;
    end if;
    if not pg_has_role(current_user,
                       (select relowner from pg_class where oid = 'storage.objects'::regclass),
                       'USAGE') then
      v_skipped := v_skipped || p.name::text;
      continue;
    end if;
    execute format('drop policy if exists %I on storage.objects', p.name);
    execute format('create policy %I on storage.objects for %s to authenticated %s %s',
                   p.name, p.command,
                   case when p.using_expr is not null then 'using (' || p.using_expr || ')' end,
                   case when p.check_expr is not null
                        then 'with check (' || p.check_expr || ')' end);
  end loop;

  if cardinality(v_skipped) > 0 then
    raise warning 'storage: % may not create policies on storage.objects; create these in the dashboard (Storage → Policies), as docs/deploy.md shows: %',
      current_user, array_to_string(v_skipped, ', ');
  end if;
end;
$migration$;
