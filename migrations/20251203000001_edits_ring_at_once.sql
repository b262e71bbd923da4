-- An edit rings at once, and costs one audio generation.
--
-- Before: a changed message re-queued its SSML job in the database and nobody published, so
-- the reconciler rang it a grace period and a sweep later (about two minutes at production
-- cadence). Now the trigger that re-queues it also posts it to the `webhook` function through
-- pg_net, in the same transaction, as the upload trigger does for analysis jobs; the webhook
-- publishes the ssml doorbell. Without pg_net, Vault or either secret, nothing is posted and
-- the reconciler still rings it.
--
-- Before, the audio generation went up by two per edit: once when the edit re-queued the
-- audio job, and again when the new SSML completed and enqueued it. Enqueueing a job that
-- is queued already now keeps its generation (nothing can hold a claim on a queued job;
-- a processing or finished one is still superseded).

-- The Supabase database-webhook POST to the `webhook` function: Vault's URL and secret,
-- pg_net's queue. False when either is missing.
create function cuecast.post_webhook(
  p_op text, p_table text, p_record jsonb, p_old_record jsonb
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
begin
  if to_regclass('vault.decrypted_secrets') is null
     or to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is null then
    return false;
  end if;
  execute 'select decrypted_secret from vault.decrypted_secrets where name = $1 limit 1'
    into v_url using 'cuecast_webhook_url';
  execute 'select decrypted_secret from vault.decrypted_secrets where name = $1 limit 1'
    into v_secret using 'cuecast_webhook_secret';
  if coalesce(btrim(v_url), '') = '' or coalesce(btrim(v_secret), '') = '' then
    return false;
  end if;
  execute 'select net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
    using v_url,
          jsonb_build_object(
            'type', p_op,
            'table', p_table,
            'schema', 'public',
            'record', p_record,
            'old_record', p_old_record),
          jsonb_build_object(
            'Content-Type', 'application/json',
            'X-Webhook-Secret', v_secret),
          5000;
  return true;
end;
$$;

revoke all on function cuecast.post_webhook(text, text, jsonb, jsonb) from public;
grant execute on function cuecast.post_webhook(text, text, jsonb, jsonb) to service_role;

-- 20250925000003's doorbell for analysis jobs, through post_webhook (the same request).
create or replace function cuecast.notify_analysis_webhook()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and old.status in ('queued', 'processing') then
    return null;
  end if;
  perform cuecast.post_webhook(
    tg_op, tg_table_name, to_jsonb(new),
    case when tg_op = 'UPDATE' then to_jsonb(old) end);
  return null;
end;
$$;

create or replace function cuecast.enqueue_audio(p_feedback_id bigint)
returns bigint
language sql
security definer
set search_path = ''
as $$
  insert into public.audio_jobs as j (feedback_id, status)
  values (p_feedback_id, 'queued')
  on conflict (feedback_id) do update
    set status = 'queued', attempts = 0, last_error = null, lease_expires_at = null,
        generation = j.generation + case when j.status = 'queued' then 0 else 1 end,
        due_at = now(), published_at = now()
  returning id;
$$;

-- 20250926000002's trigger: an edit that queues the SSML job rings it (a new item's
-- doorbell is the analysis stage's to ring, after its commit).
create or replace function public.enqueue_ssml_job()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job public.ssml_jobs;
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
  if tg_op = 'UPDATE' then
    if exists (select 1 from public.audio_jobs a where a.feedback_id = new.id) then
      perform cuecast.enqueue_audio(new.id);
    end if;
    select * into v_job from public.ssml_jobs where feedback_id = new.id;
    perform cuecast.post_webhook('UPDATE', 'ssml_jobs', to_jsonb(v_job), null);
  end if;
  return new;
end;
$$;
