"""What adopting the app's live database costs the app: cuecast's migrations applied to a
pre-plan database (tests/preplan) of app size — 100 k videos, 1 M feedback items by default,
written set-based — while the app keeps reading and writing it.

Per migration file: its wall time, the longest time an app read (feedback item, job, audio
segment, video by id) and an app write (a video's upload progress) waited, the longest wait
of a feedback write (the old writer's, which the adoption may hold up), and the longest span
the migrator held an ACCESS EXCLUSIVE lock on an app table (pg_locks, sampled). Each probe
runs in its own thread on its own connection, without lock_timeout, so one blocked statement
does not hide another's wait; a probe counts for the file running when it started.

The feedback write is what the old writer (the Edge Function) does while the migrations run:
it inserts a new item of an existing analysis (rolled back). `--no-feedback-write` leaves it
out.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench import common
from bench.common import Report, Stopwatch
from shared import migrate
from shared.local.database import with_database
from tests import preplan
from tests.pg import admin_url

NAME = "adoption"
MIGRATOR = "cuecast_bench_adoption_migrator"
APP_TABLES = ["video_recordings", "analysis_jobs", "analyses", "analysis_feedback",
              "analysis_audio_segments"]  # fmt: skip
COUNTED = [*APP_TABLES, "analysis_metrics", "analysis_ssml_segments", "cuecast.archived_rows"]
PROBE_PERIOD_S = 0.01
SAMPLE_PERIOD_S = 0.02

# The app's rows as its pipeline left them, by video number g: every upload completed, one
# job each; 2 % have a second job (g % 100 = 7: an earlier failed one; 17: a later completed
# re-run with its own feedback); 1 % of jobs two analyses (13: a re-run, both with feedback);
# 1.5 % of jobs left queued, failed or processing, without feedback. Items per analysis vary
# ±5 around --items-per-video, 1 % blank; 90 % have audio, 3 % a second rendition.
GENERATE = """
insert into auth.users (id, email, created_at)
select md5('user' || g)::uuid, 'user' || g || '@app.test',
       timestamptz '2025-05-01 00:00+00' + g * interval '1 minute'
from generate_series(1, %(users)s::int) as g;

insert into public.video_recordings (id, user_id, filename, original_filename, file_size,
  duration_seconds, format, storage_path, upload_status, upload_progress, metadata, created_at,
  updated_at)
overriding system value
select g, x.uid, 'v' || g || '.' || x.ext,
       case when mod(g, 3) = 0 then 'IMG_' || g || '.' || x.ext end,
       500000 + mod(g * 7919, 50000000), 1 + mod(g * 37, 60), x.ext,
       x.uid::text || '/' || g || '.' || x.ext, 'completed', 100,
       case mod(g, 4) when 0 then null when 1 then '{"device": "iPhone"}'::jsonb else '{}' end,
       x.at, x.at + interval '1 minute'
from generate_series(1, %(videos)s::bigint) as g,
     lateral (select md5('user' || (1 + mod(g, %(users)s::int)))::uuid as uid,
                     case when mod(g, 10) = 0 then 'mov' else 'mp4' end as ext,
                     timestamptz '2025-06-01 00:00+00'
                       + g * (interval '90 days' / %(videos)s::int) as at) as x;

insert into public.analysis_jobs (id, user_id, video_recording_id, status, progress_percentage,
  processing_started_at, processing_completed_at, error_message, results, pose_data,
  created_at, updated_at, processing_time_ms, video_source_type)
overriding system value
select j.id, v.user_id, v.id, j.status,
       case j.status when 'completed' then 100 when 'processing' then 40 when 'queued' then 0 end,
       case when j.status <> 'queued' then j.at + interval '10 seconds' end,
       case when j.status = 'completed' then j.at + interval '70 seconds' end,
       case when j.status = 'failed' then 'Edge Function timed out' end,
       case when j.status = 'completed' then jsonb_build_object('form_score', mod(v.id, 60))
            when mod(v.id, 7) > 0 then '{}'::jsonb end,
       '{}'::jsonb, j.at, j.at + interval '70 seconds',
       case when j.status = 'completed' and mod(v.id, 10) > 0
            then 30000 + mod(v.id * 13, 60000) end,
       (array['uploaded_video', 'live_recording', null])[1 + mod(v.id, 3)]
from public.video_recordings as v,
lateral (
  select v.id as id, v.created_at + interval '1 minute' as at,
         case mod(v.id, 200) when 23 then 'queued' when 29 then 'failed'
                             when 31 then 'processing' else 'completed' end as status
  union all select %(videos)s::bigint + v.id, v.created_at + interval '30 seconds', 'failed'
  where mod(v.id, 100) = 7
  union all select %(videos)s::bigint + v.id, v.created_at + interval '1 hour', 'completed'
  where mod(v.id, 100) = 17) as j;

insert into public.analyses (job_id, created_at, updated_at, full_feedback_text, summary_text,
  raw_generated_text, full_feedback_json, feedback_prompt)
select j.id, a.at, a.at,
       case when j.status = 'completed' then 'Good start. Elbows in, knees bent.' end,
       case when mod(j.id, 3) = 0 then 'Good start.' end,
       case when mod(j.id, 5) = 0 then '{"items": 10}' end,
       case when mod(j.id, 4) = 0 then jsonb_build_object('score', mod(j.id, 100)) end,
       a.prompt
from public.analysis_jobs as j,
lateral (select j.created_at + interval '70 seconds' as at, 'p1' as prompt
         union all select j.created_at + interval '2 hours', 'p2'
         where mod(j.id, 100) = 13 and j.id <= %(videos)s::bigint and j.status = 'completed'
        ) as a
where j.status <> 'queued' and not (j.status = 'failed' and j.id > %(videos)s::bigint);

insert into public.analysis_feedback (analysis_id, timestamp_seconds, category, message,
  confidence, impact, created_at)
select a.id, round((i + 0.5) * v.duration_seconds / n.items, 2),
       (array['Posture', 'Movement', 'Timing', 'Grip', 'Tempo', 'Balance', 'Finish', 'Other'])
         [1 + mod(v.id + i, 8)],
       case when mod(v.id * 31 + i, 100) = 0 then '   '
            when mod(v.id * 31 + i, 1000) = 1 then chr(160)
            else (array['Keep your elbows in.', 'Bend your knees more.', 'Stand tall.',
                        'Pause before the swing.', 'Loosen your grip.', 'Slow the backswing.',
                        'Weight forward.', 'Hold the finish.', 'Eyes on the ball.',
                        'Rotate your hips.', 'Breathe out on the lift.', 'Shoulders back.'])
                   [1 + mod(v.id * 7 + i, 12)]
                 || (array['', ' Nice work so far.', ' Try it slowly first.', ' Hold it a beat.'])
                   [1 + mod(v.id + i * 3, 4)] end,
       case when random() >= 0.05 then round(random()::numeric, 2) end,
       case when random() >= 0.05 then round(random()::numeric, 2) end, a.created_at
from public.analyses as a
join public.analysis_jobs as j on j.id = a.job_id and j.status = 'completed'
join public.video_recordings as v on v.id = j.video_recording_id,
lateral (select greatest(1, %(items)s::int + mod(v.id, 11)::int - 5) as items) as n,
lateral generate_series(0, n.items - 1) as i;

insert into public.analysis_audio_segments (analysis_feedback_id, feedback_ssml, audio_url,
  audio_duration_ms, audio_format, created_at, analysis_id, ssml_prompt, audio_prompt)
select f.id, case when mod(f.id, 500) > 0 then '<speak>' || f.message || '</speak>' else '' end,
       j.user_id::text || '/' || j.id || '/' || f.id || r.suffix || '.'
         || coalesce(x.format, 'mp3'),
       case when mod(f.id, 20) > 0 then 800 + mod(f.id * 7, 2400) end,
       x.format, f.created_at + r.delay, case when mod(f.id, 25) > 0 then f.analysis_id end,
       case when mod(f.id, 4) > 0 then 'ssml prompt v' || r.version end,
       case when mod(f.id, 3) > 0 then 'tts prompt v' || r.version end
from public.analysis_feedback as f
join public.analyses as a on a.id = f.analysis_id
join public.analysis_jobs as j on j.id = a.job_id,
lateral (select case when mod(f.id, 20) < 2 then 'wav' when mod(f.id, 50) = 2 then 'aac'
                     when mod(f.id, 40) = 3 then null else 'mp3' end as format) as x,
lateral (select '' as suffix, interval '1 minute' as delay, 1 as version
         union all select '-b', interval '5 minutes', 2 where mod(f.id, 100) < 3) as r
where mod(f.id, 10) <> 9;

insert into public.analysis_metrics (analysis_id, metric_key, metric_value, unit, created_at,
  updated_at)
select id, 'form_score', mod(id, 60), 'percentage', processing_completed_at,
       processing_completed_at
from public.analysis_jobs where status = 'completed';

select setval(pg_get_serial_sequence('public.video_recordings', 'id'),
              (select max(id) from public.video_recordings)),
       setval(pg_get_serial_sequence('public.analysis_jobs', 'id'),
              (select max(id) from public.analysis_jobs));

vacuum (analyze) public.video_recordings, public.analysis_jobs, public.analyses,
  public.analysis_feedback, public.analysis_audio_segments, public.analysis_metrics;
"""

# What the app does while the migrations run: (name, kind, statement); the feedback write is
# rolled back (the old writer's update: only its wait counts).
PROBES: list[tuple[str, str, LiteralString]] = [
    ("read feedback", "read", "select * from public.analysis_feedback where id = %(feedback)s"),
    ("read job", "read", "select * from public.analysis_jobs where id = %(video)s"),
    ("read segment", "read", "select * from public.analysis_audio_segments where id = %(segment)s"),
    ("read video", "read", "select * from public.video_recordings where id = %(video)s"),
    ("video write", "write", "update public.video_recordings set upload_progress = upload_progress"
                             " where id = %(video)s"),
    # what the old writer (the Edge Function) does meanwhile: a new item of an analysis
    ("feedback write", "rollback", "insert into public.analysis_feedback (analysis_id,"
                                   " timestamp_seconds, category, message) values"
                                   " (%(analysis)s, 1, 'Probe', 'A new item.')"),
]  # fmt: skip
COLUMNS = [
    "file",
    "seconds",
    "longest read wait (ms)",
    "longest write wait on video_recordings (ms)",
    "longest feedback insert wait (ms)",
    "longest AccessExclusive span on an app table (ms)",
    "table",
]

EXCLUSIVE = sql.SQL("""
select distinct c.relname from pg_locks as l
join pg_stat_activity as a on a.pid = l.pid
join pg_class as c on c.oid = l.relation
where a.application_name = %(app)s and a.datname = current_database()
  and l.locktype = 'relation' and l.granted and l.mode = 'AccessExclusiveLock'
  and c.relnamespace = 'public'::regnamespace and c.relname = any(%(tables)s)""")


@dataclass
class Run:
    """What happened while `migrate` ran, in perf_counter seconds: each probe's (start,
    duration) and errors, the lock samples, and when each file committed."""

    files: list[migrate.Migration]
    ids: dict[str, Any]
    stop: threading.Event = field(default_factory=threading.Event)
    start: float = 0.0
    finish: float = 0.0
    ends: list[float] = field(default_factory=list)
    notices: list[list[str]] = field(default_factory=list)
    probes: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    errors: list[tuple[float, str, str]] = field(default_factory=list)
    samples: list[tuple[float, set[str]]] = field(default_factory=list)
    error: str | None = None

    def committed(self, migration: migrate.Migration, said: list[str]) -> None:
        self.ends.append(time.perf_counter())
        self.notices.append(said)
        print(f"  {migration.path.name} committed at {self.ends[-1] - self.start:.1f} s")

    def windows(self) -> list[tuple[migrate.Migration, float, float]]:
        """Each file runs from the previous commit to its own (the failing one, to the error):
        files apply one after another on one connection."""
        bounds = [self.start, *self.ends, *([self.finish] if self.error else [])]
        return [(self.files[i], bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def generate(url: str, args: Any) -> dict[str, float]:
    """The app's rows, set-based, as the hosted role (as everything after create_database
    runs on hosted Supabase); seconds per statement."""
    params = {"videos": args.videos, "items": args.items_per_video, "users": args.users}
    steps: dict[str, float] = {}
    with common.connect(url) as conn:
        conn.execute("set synchronous_commit = off")
        conn.execute("select setseed(0.42)")
        for statement in migrate.split_statements(GENERATE):
            words = statement.split()
            label = {"insert": words[2], "select": "setval"}.get(words[0], words[0])
            with Stopwatch() as w:
                conn.execute(sql.SQL(statement), params)  # type: ignore[arg-type]
            steps[label] = round(w.seconds, 2)
            print(f"  {label}: {w.seconds:.1f} s", flush=True)
    return steps


def counts(url: str) -> dict[str, int | None]:
    """Rows per table (None where there is no such table yet)."""
    out: dict[str, int | None] = {}
    with common.connect(url) as conn:
        for table in COUNTED:
            schema, _, name = table.rpartition(".")
            out[table] = None
            if conn.execute("select to_regclass(%s) is not null", (table,)).fetchone() == (True,):
                relation = sql.Identifier(schema or "public", name)
                row = conn.execute(sql.SQL("select count(*) from {}").format(relation)).fetchone()
                out[table] = int(row[0]) if row else None
    return out


def probe_ids(url: str, videos: int) -> dict[str, Any]:
    """A video with one job and one analysis (its row nothing else touches), one of its
    non-blank items and the newest audio segment of that analysis."""
    video = next(
        g
        for g in range(max(1, videos // 2), videos + 1)
        if g % 100 not in (7, 13, 17) and g % 200 not in (23, 29, 31)
    )
    with common.connect(url) as conn:
        row = conn.execute(
            "select f.id, (select max(s.id) from public.analysis_audio_segments as s"
            "              where s.analysis_id = f.analysis_id), f.analysis_id"
            " from public.analysis_feedback as f join public.analyses as a on a.id = f.analysis_id"
            " where a.job_id = %s and f.message ~ '[a-z]' order by f.id limit 1",
            (video,),
        ).fetchone()
    assert row is not None
    return {"video": video, "feedback": int(row[0]), "segment": int(row[1]), "analysis": row[2]}


def probe(url: str, spec: tuple[str, str, LiteralString], run: Run) -> None:
    """One app statement every PROBE_PERIOD_S on its own connection, unprepared (as through
    the pooler) and with no lock_timeout (the app waits); its duration or error by start."""
    name, kind, statement = spec
    times = run.probes.setdefault(name, [])
    app = f"cuecast_bench_adoption_{name}"
    with psycopg.connect(
        url, autocommit=True, prepare_threshold=None, application_name=app
    ) as conn:
        conn.execute("set lock_timeout = 0")
        while not run.stop.is_set():
            started = time.perf_counter()
            try:
                with conn.transaction(force_rollback=True) if kind == "rollback" else nullcontext():
                    conn.execute(sql.SQL(statement), run.ids)
            except psycopg.Error as exc:
                run.errors.append((started, name, str(exc).strip()))
            times.append((started, time.perf_counter() - started))
            run.stop.wait(PROBE_PERIOD_S)


def sample_locks(admin_db: str, run: Run) -> None:
    """The app tables the migrator holds ACCESS EXCLUSIVE, every SAMPLE_PERIOD_S (as the
    superuser, who sees every session's application_name)."""
    with common.connect(admin_db) as conn:
        while not run.stop.is_set():
            at = time.perf_counter()
            rows = conn.execute(EXCLUSIVE, {"app": MIGRATOR, "tables": APP_TABLES}).fetchall()
            run.samples.append((at, {str(r[0]) for r in rows}))
            run.stop.wait(SAMPLE_PERIOD_S)


def measure(admin_db: str, url: str, ids: dict[str, Any], *, feedback_write: bool) -> Run:
    """Migrate with the probes and the sampler running (one idle second first, as a baseline)."""
    run = Run(migrate.pending(url), ids)
    probes = [p for p in PROBES if feedback_write or p[0] != "feedback write"]
    threads = [threading.Thread(target=probe, args=(url, spec, run)) for spec in probes]
    threads.append(threading.Thread(target=sample_locks, args=(admin_db, run)))
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        run.start = time.perf_counter()
        migrate.migrate(make_conninfo(url, application_name=MIGRATOR), on_applied=run.committed)
    except migrate.MigrationError as exc:
        run.error = str(exc)
    finally:
        run.finish = time.perf_counter()
        time.sleep(0.2)
        run.stop.set()
        for thread in threads:
            thread.join()
    return run


def exclusive_spans(samples: list[tuple[float, set[str]]]) -> list[tuple[float, float, str]]:
    """(start, ms, table): from the first sample that saw the lock to the first that did not."""
    held: dict[str, float] = {}
    spans: list[tuple[float, float, str]] = []
    for at, seen in samples:
        spans += [(held[t], (at - held.pop(t)) * 1000, t) for t in list(held) if t not in seen]
        held |= {t: at for t in seen if t not in held}
    last = samples[-1][0] if samples else 0.0
    return spans + [(s, (last - s) * 1000, t) for t, s in held.items()]


def longest_ms(values: list[float]) -> float:
    return max(values) * 1000 if values else math.nan


def summarise(run: Run) -> list[dict[str, Any]]:
    """Per file: seconds, the longest wait per probe, probe errors, exclusive spans (longest
    first, with when in the file they began), the server's notices."""
    spans = exclusive_spans(run.samples)
    out = []
    for i, (migration, lo, hi) in enumerate(run.windows()):
        waits = {n: longest_ms([d for t, d in ts if lo <= t < hi]) for n, ts in run.probes.items()}
        mine = sorted((s for s in spans if lo <= s[0] < hi), key=lambda s: -s[1])
        out.append(
            {
                "file": migration.path.name,
                "seconds": hi - lo,
                "longest_wait_ms": waits,
                "probe_errors": sorted({f"{n}: {e}" for t, n, e in run.errors if lo <= t < hi}),
                "exclusive_spans": [{"table": t, "ms": ms, "after_s": s - lo} for s, ms, t in mine],
                "notices": run.notices[i] if i < len(run.notices) else [run.error],
            }
        )
    return out


def _key(value: object) -> float:
    return value if isinstance(value, float) and not math.isnan(value) else -1.0


def tabulate(report: Report, files: list[dict[str, Any]], run: Run) -> None:
    table = report.table("Migrating the pre-plan database: the longest the app waited", COLUMNS)
    reads = [n for n, kind, _ in PROBES if kind == "read"]
    for f in files:
        w, spans = f["longest_wait_ms"], f["exclusive_spans"] or [{"ms": math.nan, "table": ""}]
        read = max((w[n] for n in reads), key=_key)
        table.add(
            f["file"],
            f["seconds"],
            read,
            w["video write"],
            w.get("feedback write", math.nan),
            spans[0]["ms"],
            spans[0]["table"],
        )
    rows = table.rows
    worst = max(rows, key=lambda r: _key(r[5]))
    table.add(
        "total",
        sum(float(r[1]) for r in rows),  # type: ignore[arg-type]
        *(max((r[c] for r in rows), key=_key) for c in (2, 3, 4, 5)),
        worst[6],
    )
    idle = {n: longest_ms([d for t, d in ts if t < run.start]) for n, ts in run.probes.items()}
    table.notes += [
        "Idle (the second before), longest ms: "
        + ", ".join(f"{n} {v:.1f}" for n, v in idle.items()),
        f"Probes every {PROBE_PERIOD_S * 1000:.0f} ms, one connection each, counted for the file "
        f"running when they started; pg_locks sampled every {SAMPLE_PERIOD_S * 1000:.0f} ms.",
        *(f"{f['file']}: probe error {e}" for f in files for e in f["probe_errors"]),
        *([f"MIGRATION FAILED: {run.error}"] if run.error else []),
    ]


def arguments(argv: list[str] | None) -> Any:
    parser = common.parser(NAME, __doc__)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--items-per-video", type=int, default=10, help="feedback items, ±5")
    parser.add_argument("--users", type=int, default=None, help="default: videos / 5")
    parser.add_argument(
        "--no-feedback-write",
        dest="feedback_write",
        action="store_false",
        help="leave out the feedback-write probe (it can deadlock 20250924000004 at 1 M rows)",
    )
    parser.add_argument("--admin-url", help="superuser URL (default: as tests/pg.py finds it)")
    args = parser.parse_args(argv)
    args.users = args.users or max(1, args.videos // 5)
    return args


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    admin = args.admin_url or admin_url()
    dbname = f"cuecast_bench_{NAME}_{uuid.uuid4().hex[:8]}"  # unique: runs may overlap
    try:
        url = preplan.create_database(admin, dbname, rows=False)
        report = Report(args.output, args, url)
        with Stopwatch() as w:
            report.data["generation_steps_s"] = generate(url, args)
        report.data |= {"generation_s": round(w.seconds, 1), "before": counts(url)}
        print(f"generated in {w.seconds:.1f} s")
        ids = report.data["probe_ids"] = probe_ids(url, args.videos)
        with common.connect(admin) as conn:
            conn.execute("checkpoint")  # the generation's dirty pages are not the migration's
        run = measure(with_database(admin, dbname), url, ids, feedback_write=args.feedback_write)
        report.data |= {"files": summarise(run), "after": counts(url), "error": run.error}
        tabulate(report, report.data["files"], run)
        rows = report.table(
            f"Rows (generated in {report.data['generation_s']} s)", ["table", "before", "after"]
        )
        for table, before in report.data["before"].items():
            rows.add(table, "–" if before is None else before, report.data["after"][table])
        report.finish()
    finally:
        with common.connect(admin) as conn:
            drop = sql.SQL("drop database if exists {} with (force)")
            conn.execute(drop.format(sql.Identifier(dbname)))
    if run.error:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
