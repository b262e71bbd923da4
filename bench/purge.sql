-- The proposed retention purge for finished job rows (bench/README.md, "Retention").
-- {table} is public.ssml_jobs or public.audio_jobs (psycopg.sql.Identifier). One batch per
-- statement, run in a loop until it deletes nothing: short transactions, no long locks, and
-- SKIP LOCKED so it never waits on (or blocks) a worker. Only `completed` rows are purged;
-- failed rows stay for replay and diagnosis until their item is deleted.

-- name: purge_finished_jobs
with doomed as (
  select c.id
  from {table} as c
  where c.status = 'completed'
    and c.updated_at < now() - make_interval(days => %(days)s)
  order by c.id
  limit %(batch)s
  for update skip locked
)
delete from {table} as j
using doomed as d
where j.id = d.id
