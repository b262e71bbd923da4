-- The reconciler re-rings a queued job only when its doorbell is lost, not while it waits.
--
-- Before, a job was re-rung once its doorbell was older than the grace period. A bus that
-- lags behind the grace (a backlog, slow deliveries) made every sweep re-ring jobs that were
-- only waiting, each re-ring added to the backlog, and the doorbells multiplied (7.4× those
-- needed with 500 items, grace 1 s, a sweep every 1 s and 5 s of latency). And with a grace
-- of 0 two reconcilers one after the other rang the same job twice.
--
-- Now every sweep sends a probe down each stage's topic: a message that carries the id of a
-- row here, which the function marks delivered. A job's doorbell is lost when a probe sent
-- after it (by a margin) has come through while the job is still queued: the bus has moved
-- past it. A bus that lags delays the probes as much as the doorbells, so waiting jobs are
-- left alone; an idle bus delivers a probe at once, so a lost doorbell is still rung within
-- the grace and a sweep. (Pub/Sub does not promise order: a probe that overtakes a doorbell
-- can cost that job one early re-ring, no more than the grace alone did.)
create table cuecast.doorbell_probes (
  id bigint generated always as identity primary key,
  stage text not null check (stage in ('start-analysis', 'ssml', 'audio')),
  sent_at timestamptz not null default now(),
  delivered_at timestamptz
);

comment on table cuecast.doorbell_probes is
  'Reconciler probes: sent each sweep down a stage topic, marked delivered by the function.';

-- The horizon: the newest delivered probe of a stage.
create index doorbell_probes_delivered_idx
  on cuecast.doorbell_probes (stage, sent_at desc) where delivered_at is not null;

-- Like every cuecast table, no API role touches it: the functions below are the way in.
alter table cuecast.doorbell_probes enable row level security;
revoke all on table cuecast.doorbell_probes from public, anon, authenticated, service_role;

-- A sweep's probe for a stage (sent after the sweep commits); probes older than an hour go
-- (the newest delivered one is all that counts).
create function cuecast.send_probe(p_stage text)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id bigint;
begin
  delete from cuecast.doorbell_probes
  where stage = p_stage and sent_at < now() - interval '1 hour';
  insert into cuecast.doorbell_probes (stage) values (p_stage) returning id into v_id;
  return v_id;
end;
$$;

-- The stage's horizon: when the newest probe that has come through was sent (null before
-- any has).
create function cuecast.probe_horizon(p_stage text)
returns timestamptz
language sql
stable
security definer
set search_path = ''
as $$
  select p.sent_at from cuecast.doorbell_probes as p
  where p.stage = p_stage and p.delivered_at is not null
  order by p.sent_at desc
  limit 1;
$$;

-- What the function does with a probe it receives: mark it delivered (once; an unknown id
-- changes nothing).
create function cuecast.probe_delivered(p_id bigint)
returns boolean
language sql
security definer
set search_path = ''
as $$
  update cuecast.doorbell_probes set delivered_at = now()
  where id = p_id and delivered_at is null
  returning true;
$$;

revoke all on function cuecast.send_probe(text), cuecast.probe_horizon(text),
  cuecast.probe_delivered(bigint) from public, anon, authenticated;
grant execute on function cuecast.send_probe(text), cuecast.probe_horizon(text),
  cuecast.probe_delivered(bigint) to service_role;
