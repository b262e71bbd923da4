-- Every query cuecast runs, by name; only the database gateway (shared/db) runs them, and
-- reads their rows by column name. `{table}`, `{key}`, `{error}`, `{ready}`, `{claim}` and
-- `{finish}` are filled with identifiers / fragments for the stage (shared/queries.py, from
-- shared/stages.py); values are %(name)s parameters. The claim, the completion and the reconcile queries are
-- each written once: the claim and the completion as functions in the migrations, where the
-- server keeps their plans (cuecast runs unprepared behind Supabase's transaction pooler).

-- name: claim_job
-- Take a queued, due job (cuecast.claim_<table>, written once for every job table in
-- migrations/20251201000001_stage_functions.sql): one atomic statement that sets
-- processing, counts the attempt and sets the lease. Nothing comes back when the job is not
-- claimable right now.
select c.id, c.key, c.generation, c.attempts
from {claim}(%(key)s, %(lease_seconds)s, %(max_attempts)s) as c

-- name: job_state
-- Why a claim found nothing: decides between acknowledging and asking for redelivery.
select c.status, c.due_at <= now() as due, c.attempts, {ready} as ready
from {table} as c
where c.{key} = %(key)s

-- name: finish_job
-- Complete a job, only for the claim (generation and attempt) that did the work: the job's
-- key, or null when the claim was superseded (cuecast.finish_<table>).
select {finish}(%(id)s, %(generation)s, %(attempts)s)

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
returning j.{key} as key, j.status

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
returning j.{key} as key

-- name: stage_gauges
-- Reconcile: the stage's gauges, logged every sweep (the log-based metrics and alerts of
-- terraform/monitoring.tf read them). Each count uses a partial index on its status.
select (select count(*) from {table} where status = 'queued') as queued,
       (select count(*) from {table} where status = 'processing') as processing,
       (select count(*) from {table} where status = 'failed') as failed,
       coalesce(extract(epoch from now() - (
         select min(c.due_at) from {table} as c
         where c.status = 'queued' and c.due_at <= now())), 0)::float8 as oldest_queued_s

-- name: probe_send
-- Reconcile: a probe for the stage's topic, sent after this sweep commits.
select cuecast.send_probe(%(stage)s) as id

-- name: rerun
select cuecast.rerun(%(stage)s, %(key)s, %(message_id)s) as said

-- name: probe_delivered
select cuecast.probe_delivered(%(id)s) as delivered

-- name: failed_audio_generations
-- Reconcile: where the audio of items whose job it just failed was uploaded (their
-- generation's folder, which no row points at), for the reconciler to remove.
select a.feedback_id, f.analysis_job_id, v.user_id::text as user_id, a.generation
from public.audio_jobs as a
join public.analysis_feedback as f on f.id = a.feedback_id
join public.analysis_jobs as aj on aj.id = f.analysis_job_id
join public.video_recordings as v on v.id = aj.video_recording_id
where a.feedback_id = any(%(ids)s::bigint[]) and a.status = 'failed'

-- name: ring_lost_doorbells
-- Reconcile: queued, due jobs whose last doorbell is lost (a failed publish, a webhook that
-- never fired, a dead-lettered message): older than the grace period, and passed by a probe
-- that was sent at least %(margin_seconds)s later and has been delivered (migration
-- 20251203000002), so a job that is only waiting in a lagging bus is left alone. Marking
-- published_at under SKIP LOCKED makes two reconcilers take disjoint sets, and the job's
-- new doorbell time is after every probe delivered so far.
update {table} as j
set published_at = now()
where j.id in (
  select c.id
  from {table} as c
  where c.status = 'queued'
    and c.due_at <= now()
    and greatest(c.due_at, c.published_at) < now() - make_interval(secs => %(grace_seconds)s)
    and c.published_at + make_interval(secs => %(margin_seconds)s)
        <= (select cuecast.probe_horizon(%(stage)s))
    and c.attempts < %(max_attempts)s
    and {ready}
  order by c.due_at
  limit %(limit)s
  for update skip locked
)
returning j.{key} as key

-- name: ready_always
true

-- name: ready_after_ssml
-- An audio job waits until its item's SSML is completed.
cuecast.ssml_completed(c.feedback_id)

-- name: claim_analysis
-- The start-analysis stage's claim: the job's video, its voice snapshot fixed on the first
-- claim (migrations/20251202000002).
select c.id, c.key, c.generation, c.attempts, c.user_id, c.storage_path, c.format, c.voice
from cuecast.claim_analysis(%(key)s, %(lease_seconds)s, %(max_attempts)s, %(voice)s) as c

-- name: upsert_feedback
-- A re-run of analysis replaces items by index; an unchanged message re-queues nothing.
insert into public.analysis_feedback as f
  (analysis_job_id, item_index, timestamp_seconds, category, message, confidence, impact)
select %(job_id)s, i.item_index, i.timestamp_seconds, i.category, i.message, i.confidence, i.impact
from unnest(%(indexes)s::integer[], %(timestamps)s::numeric[], %(categories)s::text[],
            %(messages)s::text[], %(confidences)s::numeric[], %(impacts)s::numeric[])
  as i(item_index, timestamp_seconds, category, message, confidence, impact)
on conflict (analysis_job_id, item_index) do update
  set timestamp_seconds = excluded.timestamp_seconds, category = excluded.category,
      message = excluded.message, confidence = excluded.confidence, impact = excluded.impact
returning f.id, f.ssml_status

-- name: delete_feedback_from
-- Items a re-run no longer produces; their audio objects are removed after commit.
delete from public.analysis_feedback
where analysis_job_id = %(job_id)s and item_index >= %(count)s
returning id

-- name: record_analysis_results
update public.analysis_jobs
set results = %(results)s
where id = %(id)s

-- name: claim_ssml
-- The ssml stage's claim with the item's message, category and voice; the audio stage's
-- with the item's SSML segments. Each finish completes the job and writes the stage's rows
-- in one statement, for the claim that did the work only (migrations/20251201000001).
select c.id, c.key, c.generation, c.attempts, c.message, c.category, c.voice
from cuecast.claim_ssml(%(key)s, %(lease_seconds)s, %(max_attempts)s) as c

-- name: finish_ssml
select cuecast.finish_ssml(%(id)s, %(generation)s, %(attempts)s, %(provider)s, %(version)s,
                           %(indexes)s::integer[], %(ssml)s::text[])

-- name: claim_audio
select c.id, c.key, c.generation, c.attempts, c.analysis_job_id, c.user_id, c.voice,
       c.indexes, c.ssml
from cuecast.claim_audio(%(key)s, %(lease_seconds)s, %(max_attempts)s) as c

-- name: finish_audio
select cuecast.finish_audio(%(id)s, %(generation)s, %(attempts)s, %(indexes)s::integer[],
                            %(urls)s::text[], %(durations)s::integer[], %(format)s,
                            %(provider)s, %(version)s)

-- name: find_video_by_path
select id from public.video_recordings where storage_path = %(path)s order by id limit 1

-- name: ensure_analysis_job
select cuecast.ensure_analysis_job(%(video_id)s)

-- name: analysis_job_exists
select id from public.analysis_jobs where id = %(id)s

-- Operations (`cuecast status`, `cuecast replay`): read-mostly, written once like the rest.

-- name: status_counts
-- Jobs by status in one stage, with the age of the oldest queued job (seconds).
select c.status, count(*) as count,
       extract(epoch from now() - min(c.updated_at) filter (where c.status = 'queued'))::float8
         as oldest_queued_s
from {table} as c
group by c.status

-- name: status_failures
select c.{key} as id, c.attempts, c.{error} as error, c.updated_at as at
from {table} as c
where c.status = 'failed'
order by c.updated_at desc, c.{key}
limit %(limit)s

-- name: story_job
-- A job's columns, and its video's under `video_`.
select j.id, j.status, j.progress_percentage, j.attempts, j.generation, j.error_message,
       j.voice, j.created_at, j.processing_started_at, j.processing_completed_at, j.updated_at,
       v.id as video_id, v.user_id::text as video_user_id, v.filename as video_filename,
       v.storage_path as video_storage_path, v.format as video_format,
       v.file_size as video_file_size, v.upload_status as video_upload_status
from public.analysis_jobs as j
join public.video_recordings as v on v.id = j.video_recording_id
where j.id = %(id)s

-- name: story_items
-- Every feedback item of one analysis job with its two jobs and its segments.
-- (its SSML and audio jobs' columns under `ssml_` and `audio_`)
select f.id as feedback_id, f.item_index, f.timestamp_seconds, f.category, f.message,
       f.ssml_status, f.audio_status,
       s.status as ssml_status_, s.attempts as ssml_attempts, s.last_error as ssml_last_error,
       s.created_at as ssml_created_at, s.updated_at as ssml_updated_at,
       a.status as audio_status_, a.attempts as audio_attempts, a.last_error as audio_last_error,
       a.created_at as audio_created_at, a.updated_at as audio_updated_at,
       (select count(*) from public.analysis_ssml_segments as ss where ss.feedback_id = f.id)
         as ssml_segments,
       coalesce(array(select x.audio_url from public.analysis_audio_segments as x
                      where x.feedback_id = f.id order by x.segment_index), '{}') as audio_paths,
       coalesce(array(select x.duration_ms from public.analysis_audio_segments as x
                      where x.feedback_id = f.id order by x.segment_index), '{}')
         as audio_durations_ms
from public.analysis_feedback as f
left join public.ssml_jobs as s on s.feedback_id = f.id
left join public.audio_jobs as a on a.feedback_id = f.id
where f.analysis_job_id = %(id)s
order by f.item_index

-- name: job_for_video
select id from public.analysis_jobs where video_recording_id = %(video_id)s

-- name: replay_select
-- The jobs a replay names: by message ids, statuses and age (each filter optional).
select c.{key} as key, c.status
from {table} as c
where (%(keys)s::bigint[] is null or c.{key} = any(%(keys)s::bigint[]))
  and (%(statuses)s::text[] is null or c.status = any(%(statuses)s::text[]))
  and (%(older_than_s)s::float8 is null
       or c.updated_at < now() - make_interval(secs => %(older_than_s)s::float8))
order by c.{key}
limit %(limit)s

-- name: replay_requeue
-- Chosen jobs (failed ones; with --force, completed ones too) back to queued with attempts
-- reset (a new generation), due now.
update {table} as j
set status = 'queued', attempts = 0, generation = j.generation + 1, {error} = null,
    due_at = now(), published_at = now(), lease_expires_at = null
where j.{key} = any(%(keys)s::bigint[]) and j.status = any(%(statuses)s::text[])
returning j.{key} as key

-- name: job_progress
-- One analysis job and how far its items have come, for live progress.
select j.status, j.progress_percentage as percent,
       count(f.id) as items,
       count(f.id) filter (where f.ssml_status in ('completed', 'skipped')) as ssml_done,
       count(f.id) filter (where f.ssml_status = 'failed') as ssml_failed,
       count(f.id) filter (where f.audio_status in ('completed', 'skipped')) as audio_done,
       count(f.id) filter (where f.audio_status = 'failed') as audio_failed
from public.analysis_jobs as j
left join public.analysis_feedback as f on f.analysis_job_id = j.id
where j.id = %(id)s
group by j.id

-- Backfill (`cuecast backfill`): the items that were there before cuecast and have no SSML or
-- audio (`unrequested`, migrations/20250924000004), queued in bounded batches.

-- name: backfill_candidates
-- Every item a backfill would queue, with what it needs: SSML (then audio) or audio only.
select f.id, f.ssml_status = 'unrequested' as needs_ssml, f.message, f.category,
       (select count(*) from public.analysis_ssml_segments as s where s.feedback_id = f.id)
         as segments
from public.analysis_feedback as f
where (f.ssml_status = 'unrequested' or f.audio_status = 'unrequested')
  and not cuecast.is_blank(f.message)
  and (%(job_id)s::bigint is null or f.analysis_job_id = %(job_id)s::bigint)
order by f.id
limit %(limit)s

-- name: backfill_take
-- The next batch, locked so two backfills take disjoint ones.
select f.id, f.ssml_status = 'unrequested' as needs_ssml
from public.analysis_feedback as f
where (f.ssml_status = 'unrequested' or f.audio_status = 'unrequested')
  and not cuecast.is_blank(f.message)
  and (%(job_id)s::bigint is null or f.analysis_job_id = %(job_id)s::bigint)
order by f.id
limit %(limit)s
for update skip locked

-- name: backfill_enqueue_ssml
select cuecast.enqueue_ssml(i) from unnest(%(ids)s::bigint[]) as i

-- name: backfill_audio_waits
-- Their audio waits for the SSML (`pending`) and is queued when the SSML is written.
update public.analysis_feedback
set audio_status = 'pending'
where id = any(%(ids)s::bigint[]) and audio_status = 'unrequested'

-- name: backfill_enqueue_audio
select cuecast.enqueue_audio(i) from unnest(%(ids)s::bigint[]) as i

-- name: backfill_unsettled
-- How many of a batch's items are still on their way (queued, processing, waiting).
select count(*) as count
from public.analysis_feedback as f
where f.id = any(%(ids)s::bigint[])
  and (f.ssml_status in ('pending', 'queued', 'processing')
       or f.audio_status in ('pending', 'queued', 'processing'))

-- Local runs only (the Supabase surface of shared/sql/local_supabase.sql).

-- name: local_set_secret
-- The local Vault stand-in: what the webhook trigger reads to reach the webhook function.
insert into vault.secrets (name, secret) values (%(name)s, %(secret)s)
on conflict (name) do update set secret = excluded.secret

-- name: local_create_user
insert into auth.users (id, email) values (%(id)s, %(email)s)

-- name: local_act_as
-- For the rest of the transaction, act as a signed-in user, as PostgREST does.
select set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', %(claims)s, true)

-- name: local_insert_video
-- The columns both starting points have; the app's database requires `duration_seconds`.
insert into public.video_recordings
  (user_id, filename, storage_path, format, file_size, duration_seconds, upload_status)
values (%(user_id)s, %(filename)s, %(path)s, %(format)s, %(size)s, %(seconds)s, 'uploading')
returning id

-- name: local_complete_upload
update public.video_recordings set upload_status = 'completed' where id = %(id)s

-- name: local_take_webhook_requests
-- The local webhook step: take every request the net.http_post stand-in recorded.
with taken as (delete from net.http_request_queue returning id, headers, body)
select headers, body from taken order by id
