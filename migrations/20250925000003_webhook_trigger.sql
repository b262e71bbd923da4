-- The doorbell: an analysis job that becomes queued (inserted, or re-queued from failed or
-- completed) is posted to the `webhook` function in Supabase's database-webhook shape.
-- The URL and the shared secret live in Supabase Vault under the names
--   cuecast_webhook_url, cuecast_webhook_secret
-- (docs/deploy.md); without pg_net, Vault, or either secret, the trigger does nothing and the
-- reconciler rings the bell instead. Retries (processing → queued) are Pub/Sub's redelivery
-- and the reconciler's business, not the webhook's.
create function cuecast.notify_analysis_webhook()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
begin
  if tg_op = 'UPDATE' and old.status in ('queued', 'processing') then
    return null;
  end if;
  if to_regclass('vault.decrypted_secrets') is null
     or to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is null then
    return null;
  end if;
  execute 'select decrypted_secret from vault.decrypted_secrets where name = $1 limit 1'
    into v_url using 'cuecast_webhook_url';
  execute 'select decrypted_secret from vault.decrypted_secrets where name = $1 limit 1'
    into v_secret using 'cuecast_webhook_secret';
  if coalesce(btrim(v_url), '') = '' or coalesce(btrim(v_secret), '') = '' then
    return null;
  end if;
  execute 'select net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
    using v_url,
          jsonb_build_object(
            'type', tg_op,
            'table', tg_table_name,
            'schema', tg_table_schema,
            'record', to_jsonb(new),
            'old_record', case when tg_op = 'UPDATE' then to_jsonb(old) end),
          jsonb_build_object(
            'Content-Type', 'application/json',
            'X-Webhook-Secret', v_secret),
          5000;
  return null;
end;
$$;

revoke all on function cuecast.notify_analysis_webhook() from public;

create trigger analysis_jobs_webhook
  after insert or update of status on public.analysis_jobs
  for each row when (new.status = 'queued')
  execute function cuecast.notify_analysis_webhook();
