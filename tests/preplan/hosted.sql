-- Hosted Supabase's roles as the app's migrations met them, for tests (run by a superuser
-- after shared/sql/local_supabase.sql): `hosted_postgres` stands for the project's
-- `postgres`, which is not a superuser. It owns the database (so the public schema and
-- everything the migrations create), may act as the API roles, owns the realtime
-- publication, and may manage storage.objects through supabase_storage_admin, as the app's
-- own storage migrations needed. Roles are cluster-wide: each is created in a block that
-- tolerates a concurrent creator.
do $$ begin create role hosted_postgres login nosuperuser createrole bypassrls;
exception when duplicate_object or unique_violation then null; end $$;
do $$ begin create role supabase_storage_admin nologin;
exception when duplicate_object or unique_violation then null; end $$;
grant anon, authenticated, service_role to hosted_postgres;
grant supabase_storage_admin to hosted_postgres;

alter schema storage owner to supabase_storage_admin;
alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;
alter function storage.foldername(text) owner to supabase_storage_admin;

grant usage on schema auth to hosted_postgres;
grant all on auth.users to hosted_postgres;
grant usage on schema net, vault to hosted_postgres;
grant all on net.http_request_queue to hosted_postgres;
grant usage on sequence net.http_request_queue_id_seq to hosted_postgres;
grant execute on all functions in schema net, vault to hosted_postgres;
grant all on vault.secrets to hosted_postgres;
grant select on vault.decrypted_secrets to hosted_postgres;
alter publication supabase_realtime owner to hosted_postgres;

alter default privileges for role hosted_postgres in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role hosted_postgres in schema public
  grant all on sequences to anon, authenticated, service_role;
alter default privileges for role hosted_postgres in schema public
  grant all on functions to anon, authenticated, service_role;
