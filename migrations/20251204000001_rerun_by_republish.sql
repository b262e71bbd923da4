-- Replay by republishing: a message that asks for a re-run (`{"feedback_id": 7, "rerun":
-- true}`, or `analysis_job_id` on start-analysis) re-queues its job whatever it had come to
-- (completed or failed included: a new generation, attempts reset, due now), and the
-- function then runs it. Plain doorbells keep their meaning. Who may publish to a topic may
-- ask for re-runs: the topic's publish permission is the gate (docs/operations.md).
--
-- Pub/Sub delivers at least once, so a re-run is keyed by its message id: the first
-- delivery re-queues, a redelivery of the same message is an ordinary doorbell. A job that is
-- running is not re-queued under its worker; the message is redelivered later instead.
create table cuecast.reruns (
  message_id text primary key check (length(message_id) between 1 and 200),
  stage text not null check (stage in ('start-analysis', 'ssml', 'audio')),
  key bigint not null,
  requeued_at timestamptz not null default now()
);

comment on table cuecast.reruns is
  'Re-run requests taken from Pub/Sub messages, by message id (a redelivery is not a re-run).';

create index reruns_requeued_at_idx on cuecast.reruns (requeued_at);

alter table cuecast.reruns enable row level security;
revoke all on table cuecast.reruns from public, anon, authenticated, service_role;

-- 'requeued', 'repeated' (this message re-queued it already), 'running' (held by a live
-- worker: ask again later) or 'missing' (no such job).
create function cuecast.rerun(p_stage text, p_key bigint, p_message_id text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_table text;
  v_key text;
  v_error text;
  v_status text;
begin
  select t, k, e into v_table, v_key, v_error
  from (values ('start-analysis', 'analysis_jobs', 'id', 'error_message'),
               ('ssml', 'ssml_jobs', 'feedback_id', 'last_error'),
               ('audio', 'audio_jobs', 'feedback_id', 'last_error')) as v(s, t, k, e)
  where s = p_stage;
  if v_table is null then
    raise exception 'unknown stage %', p_stage using errcode = 'invalid_parameter_value';
  end if;
  execute format('select status from public.%I where %I = $1 for update', v_table, v_key)
    into v_status using p_key;
  if v_status is null then
    return 'missing';
  end if;
  if v_status = 'processing' then
    return 'running';
  end if;
  delete from cuecast.reruns where requeued_at < now() - interval '8 days';  -- Pub/Sub keeps 7
  insert into cuecast.reruns (message_id, stage, key) values (p_message_id, p_stage, p_key)
  on conflict (message_id) do nothing;
  if not found then
    return 'repeated';
  end if;
  execute format(
    'update public.%1$I set status = ''queued'', attempts = 0, generation = generation + 1,'
    ' %2$I = null, due_at = now(), published_at = now(), lease_expires_at = null'
    ' where %3$I = $1', v_table, v_error, v_key)
    using p_key;
  return 'requeued';
end;
$$;

revoke all on function cuecast.rerun(text, bigint, text) from public, anon, authenticated;
grant execute on function cuecast.rerun(text, bigint, text) to service_role;
