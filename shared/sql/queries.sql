-- Every query cuecast runs, by name. `{table}`, `{key}`, `{error}` and `{ready}` are filled
-- with identifiers / fragments for the stage (shared/queries.py); values are %(name)s
-- parameters. The claim, the completion and the reconcile queries are each written once.

-- name: claim_job
-- Take a queued, due job: one atomic statement that sets processing, counts the attempt and
-- sets the lease. Nothing comes back when the job is not claimable right now.
update {table} as j
set status = 'processing',
    attempts = j.attempts + 1,
    lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
where j.id = (
  select c.id
  from {table} as c
  where c.{key} = %(key)s
    and c.status = 'queued'
    and c.due_at <= now()
    and c.attempts < %(max_attempts)s
    and {ready}
  for update skip locked
)
returning j.id, j.{key}, j.generation, j.attempts

-- name: job_state
-- Why a claim found nothing: decides between acknowledging and asking for redelivery.
select c.status, c.due_at <= now() as due, c.attempts, {ready} as ready
from {table} as c
where c.{key} = %(key)s

-- name: finish_job
-- Complete a job, only for the claim (generation and attempt) that did the work.
update {table}
set status = 'completed', lease_expires_at = null, {error} = null
where id = %(id)s and generation = %(generation)s and attempts = %(attempts)s
  and status = 'processing'
returning id

-- name: retry_job
-- A transient failure with attempts left: back to queued, due after the backoff.
update {table}
set status = 'queued', lease_expires_at = null, {error} = %(error)s,
    due_at = now() + make_interval(secs => %(delay_seconds)s), published_at = now()
where id = %(id)s and generation = %(generation)s and attempts = %(attempts)s
  and status = 'processing'
returning id

-- name: fail_job
-- A permanent failure, or the last attempt: failed, with the error recorded.
update {table}
set status = 'failed', lease_expires_at = null, {error} = %(error)s
where id = %(id)s and generation = %(generation)s and attempts = %(attempts)s
  and status = 'processing'
returning id

-- name: reclaim_expired
-- Reconcile: jobs whose worker vanished. Back to queued (rung again at once), or failed
-- when no attempt is left.
update {table} as j
set status = case when j.attempts >= %(max_attempts)s then 'failed' else 'queued' end,
    lease_expires_at = null,
    due_at = now(),
    published_at = now(),
    {error} = case when j.attempts >= %(max_attempts)s
                   then 'lease expired on the last attempt (' || j.attempts || ')'
                   else coalesce(j.{error}, 'lease expired') end
where j.id in (
  select c.id
  from {table} as c
  where c.status = 'processing' and c.lease_expires_at < now()
  order by c.lease_expires_at
  limit %(limit)s
  for update skip locked
)
returning j.{key}, j.status

-- name: fail_exhausted
-- Reconcile: queued jobs that have no attempt left (e.g. after max attempts was lowered).
update {table} as j
set status = 'failed', {error} = coalesce(j.{error}, 'out of attempts')
where j.id in (
  select c.id
  from {table} as c
  where c.status = 'queued' and c.attempts >= %(max_attempts)s
  limit %(limit)s
  for update skip locked
)
returning j.{key}

-- name: ring_lost_doorbells
-- Reconcile: queued, due jobs whose last doorbell is older than the grace period (a lost
-- publish, a webhook that never fired, a dead-lettered message). Marking published_at under
-- SKIP LOCKED makes two reconcilers take disjoint sets.
update {table} as j
set published_at = now()
where j.id in (
  select c.id
  from {table} as c
  where c.status = 'queued'
    and c.due_at <= now()
    and greatest(c.due_at, c.published_at) < now() - make_interval(secs => %(grace_seconds)s)
    and c.attempts < %(max_attempts)s
    and {ready}
  order by c.due_at
  limit %(limit)s
  for update skip locked
)
returning j.{key}

-- name: ready_always
true

-- name: ready_after_ssml
-- An audio job waits until its item's SSML is completed.
exists (
  select 1 from public.analysis_feedback as rf
  where rf.id = c.feedback_id and rf.ssml_status = 'completed'
)
