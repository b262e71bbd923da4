"""Does the claim degrade as finished jobs pile up? Claim latency (p50/p99) and claim+finish
throughput with 1 k, 100 k and 1 M finished jobs in ssml_jobs (and as many feedback items,
audio jobs, SSML and audio segments, a tenth as many analysis jobs, written set-based with
generate_series), each with 10 k queued ssml jobs and 10 k queued audio jobs; and the
audio stage's claim (with the item's context) on the queued audio jobs. The three
databases are built first, then measured in alternating rounds.

Also: at each size, the EXPLAIN (ANALYZE, BUFFERS) plans of the claim, the stages' claims
and finishes and the reconcile queries — with the plans of every statement run inside their
functions and triggers (auto_explain), since EXPLAIN of a function call shows a Function
Scan only — and the sequential scans in them (none expected at 1 M); table and index
sizes per size, what the passage of jobs (queued → processing → completed: three row
versions each) does to them before and after VACUUM, and the timing of the proposed
retention purge (bench/purge.sql). Target: p99 at 1 M ≤ 1.5 x p99 at 1 k.
"""

from __future__ import annotations

import argparse
import logging
import time
from contextlib import ExitStack
from typing import Any

from bench import common
from bench.common import Report, Stopwatch, median, percentile, verdict
from bench.limit import POLICY, pair_seconds
from bench.plans import plans, record, scans_table
from bench.retention import index_sizes, passage, purge, sizes
from bench.seed import complete_ssml, seed_items
from shared.domain import Stage
from shared.queries import raw, stage_query

NAME = "scale"

POPULATE = [
    # Triggers and FK checks off for the bulk load (superuser, this session only): the rows
    # are written as the pipeline leaves them, with ages spread over the last 90 days.
    "set session_replication_role = replica",
    "insert into auth.users (id, email) values (%(user)s, 'scale@bench.test')",
    """insert into public.video_recordings
         (user_id, filename, storage_path, format, file_size, upload_status, created_at)
       select %(user)s, 'v' || g || '.mp4', %(user)s::text || '/v' || g || '.mp4', 'mp4',
              1000000, 'completed', now() - (g %% 90) * interval '1 day'
       from generate_series(1, %(videos)s) as g""",
    """insert into public.analysis_jobs
         (user_id, video_recording_id, status, progress_percentage, attempts, created_at,
          updated_at, voice)
       select v.user_id, v.id, 'completed', 100, 1, v.created_at, v.created_at,
              '{"name": "en-US-Neural2-D", "language": "en-US", "style": "coach"}'
       from public.video_recordings as v""",
    """insert into public.analysis_feedback
         (analysis_job_id, item_index, timestamp_seconds, category, message, confidence,
          impact, ssml_status, audio_status, created_at, updated_at)
       select j.id, i, i, 'technique', 'Keep your elbows in as you lift.', 0.9, 0.6,
              'completed', 'completed', j.created_at, j.created_at
       from public.analysis_jobs as j, generate_series(0, 9) as i""",
    """insert into public.ssml_jobs
         (feedback_id, status, attempts, generation, due_at, published_at, created_at,
          updated_at)
       select f.id, 'completed', 1, 1, f.created_at, f.created_at, f.created_at, f.created_at
       from public.analysis_feedback as f""",
    """insert into public.audio_jobs
         (feedback_id, status, attempts, generation, due_at, published_at, created_at,
          updated_at)
       select f.id, 'completed', 1, 1, f.created_at, f.created_at, f.created_at, f.created_at
       from public.analysis_feedback as f""",
    """insert into public.analysis_ssml_segments
         (feedback_id, segment_index, ssml, provider, version, created_at)
       select f.id, 0, '<speak><s>' || f.message || '</s></speak>', 'bench', 'bench-1',
              f.created_at
       from public.analysis_feedback as f""",
    """insert into public.analysis_audio_segments
         (feedback_id, segment_index, audio_url, format, duration_ms, provider, version,
          created_at)
       select f.id, 0, 'u/' || f.analysis_job_id || '/' || f.id || '/1/0.mp3', 'mp3', 2000,
              'bench', 'bench-1', f.created_at
       from public.analysis_feedback as f""",
    "reset session_replication_role",
]


def populate(url: str, finished: int, queued: int) -> tuple[list[int], list[int]]:
    """`finished` completed items (multiple of 10), then `queued` items through the real
    triggers, and `queued` more whose audio job is queued; VACUUM ANALYZE; returns the
    feedback ids of the queued ssml jobs and of the queued audio jobs."""
    import uuid

    with common.connect(url) as conn:
        with conn.transaction():
            params = {"user": uuid.uuid4(), "videos": finished // 10}
            for statement in POPULATE:
                conn.execute(statement, params)
        ids = seed_items(conn, queued)
        audio_ids = seed_items(conn, queued)
        complete_ssml(conn, audio_ids)
        conn.execute("vacuum analyze")
    return ids, audio_ids


def claim_latencies(url: str, ids: list[int]) -> dict[str, list[float]]:
    """Milliseconds of each claim statement (`claim_job`: cuecast.claim_ssml_jobs) inside an
    explicit transaction, so that it is timed apart from its commit (the stages send their
    claim in autocommit), of that commit (not flushed: the claim function sets
    synchronous_commit off), and of the finish (`finish_job`, autocommit, a durable
    commit); one connection, unprepared."""
    stage = Stage.SSML
    out: dict[str, list[float]] = {"claim": [], "commit": [], "finish": []}
    with common.connect(url) as conn:
        claim_sql = stage_query(stage, "claim_job").as_string(conn)
        finish_sql = stage_query(stage, "finish_job").as_string(conn)
        for key in ids:
            with conn.transaction():
                start = time.perf_counter()
                row = conn.execute(claim_sql, {"key": key, **POLICY}).fetchone()
                claimed = time.perf_counter()
            committed = time.perf_counter()
            if row is None:
                raise RuntimeError(f"nothing to claim for {key}")
            conn.execute(
                finish_sql, {"id": row[0], "generation": row[2], "attempts": row[3]}
            ).fetchone()
            out["finish"].append((time.perf_counter() - committed) * 1000)
            out["claim"].append((claimed - start) * 1000)
            out["commit"].append((committed - claimed) * 1000)
    return out


def stage_claim_latencies(url: str, audio_ids: list[int]) -> list[float]:
    """Milliseconds of the audio stage's claim (`claim_audio`: the claim function, then the
    item's context through joins on the feedback, analysis and video rows) for queued audio
    jobs, in autocommit as the stage sends it (its commit included); one connection,
    unprepared. The jobs stay processing."""
    out: list[float] = []
    with common.connect(url) as conn:
        for key in audio_ids:
            start = time.perf_counter()
            row = conn.execute(raw("claim_audio"), {"key": key, **POLICY}).fetchone()
            out.append((time.perf_counter() - start) * 1000)
            if row is None:
                raise RuntimeError(f"nothing to claim for audio {key}")
    return out


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run with its latency samples reduced to percentiles (the JSON stays small)."""
    out = {k: v for k, v in run.items() if not k.endswith("_ms")}
    for key in ("claim_ms", "commit_ms", "finish_ms", "stage_claim_ms"):
        samples = run[key]
        out[key] = {f"p{q}": round(percentile(samples, q), 4) for q in (50, 90, 99, 100)}
    return out


def mb(n: int) -> float:
    return n / (1 << 20)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = common.parser(NAME, __doc__)
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000, 100_000, 1_000_000],
        help="finished jobs (multiples of 10)",
    )
    parser.add_argument("--queued", type=int, default=10_000, help="queued items per size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--claims", type=int, default=1000, help="timed claims per round")
    parser.add_argument("--pairs", type=int, default=1500, help="claim+finish pairs per round")
    parser.add_argument(
        "--passage",
        type=int,
        default=100_000,
        help="jobs passed through for the size experiment (0: skip)",
    )
    parser.add_argument("--purge-days", type=int, default=30)
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.WARNING)
    if args.rounds * (args.claims + args.pairs) > args.queued:
        parser.error("rounds × (claims + pairs) must not exceed --queued")
    return args


def build(
    stack: ExitStack, template: str, args: Any
) -> tuple[dict[int, str], dict[int, list[int]], dict[int, list[int]]]:
    """One database per size, cloned from `template` and populated (dropped when `stack`
    closes): their urls and the feedback ids of their queued ssml and audio jobs."""
    urls: dict[int, str] = {}
    queues: dict[int, list[int]] = {}
    audio_queues: dict[int, list[int]] = {}
    for size in args.sizes:
        urls[size] = stack.enter_context(common.clone_database(template, f"{NAME}_{size}"))
        with Stopwatch() as w:
            queues[size], audio_queues[size] = populate(urls[size], size, args.queued)
        print(f"built {size:>9,} finished + {args.queued:,} queued in {w.seconds:.1f} s")
    return urls, queues, audio_queues


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    with common.scratch_database(NAME) as template:
        report = Report(args.output, args, template)
        with ExitStack() as stack:
            urls, queues, audio_queues = build(stack, template, args)
            results = measure(urls, queues, audio_queues, args)
            largest = max(args.sizes)
            explained = {
                size: plans(urls[size], queues[size][-1], audio_queues[size][-1])
                for size in args.sizes
            }
            record(report, explained)
            report.data["sizes"] = {str(s): sizes(u) for s, u in urls.items()}
            report.data["ssml_jobs_indexes"] = index_sizes(urls[largest], "ssml_jobs")
            if args.passage:
                with common.clone_database(template, f"{NAME}_passage") as url:
                    report.data["passage"] = passage(url, args.passage)
            report.data["purge"] = purge(urls[largest], args.purge_days, 10_000)
        tabulate(report, args, results)
        report.data["runs"] = [summary(r) for r in results]
        report.finish()
        print("\n".join(f"\n### {k}\n{v}" for k, v in report.data["plans"].items()))


def measure(
    urls: dict[int, str],
    queues: dict[int, list[int]],
    audio_queues: dict[int, list[int]],
    args: Any,
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    used = dict.fromkeys(urls, 0)
    for round_ in range(args.rounds):
        order = list(urls)
        order = order[round_ % len(order) :] + order[: round_ % len(order)]
        for size in order:
            take = queues[size][used[size] : used[size] + args.claims + args.pairs]
            used[size] += len(take)
            timed = claim_latencies(urls[size], take[: args.claims])
            first = round_ * args.claims
            audio = audio_queues[size][first : first + args.claims]
            timed["stage_claim"] = stage_claim_latencies(urls[size], audio)
            seconds = pair_seconds(urls[size], Stage.SSML, take[args.claims :], 4, prepared=False)
            rate = len(take[args.claims :]) / seconds
            results.append(
                {
                    "round": round_,
                    "size": size,
                    "pairs_per_s": rate,
                    **{f"{k}_ms": v for k, v in timed.items()},
                }
            )
            claims, stage_claims = timed["claim"], timed["stage_claim"]
            print(
                f"round {round_} {size:>9,}: claim p50 {median(claims):.3f} ms"
                f" p99 {percentile(claims, 99):.3f} ms, claim_audio p50"
                f" {median(stage_claims):.3f} ms, {rate:.0f} pairs/s"
            )
    return results


def tabulate(report: Report, args: Any, results: list[dict[str, Any]]) -> None:
    latency_table(report, args, results)
    scans_table(report, args.sizes)
    size_tables(report, args)
    purge_table(report, args)


LATENCY_NOTE = (
    "claim = the claim statement (`claim_job`: cuecast.claim_ssml_jobs, index lookups, "
    "row lock, update, triggers) inside an explicit transaction; commit = that "
    "transaction's commit, which does not wait for the WAL flush (the claim function "
    "sets synchronous_commit off); finish = the finish statement (`finish_job`) in "
    "autocommit, its durable commit included. claim_audio = the audio stage's claim "
    "statement (cuecast.claim_audio: the claim function, then the item's context "
    "through joins) on as many queued audio jobs, in autocommit as the stage sends it, "
    "its commit included."
)


def pooled(runs: list[dict[str, Any]]) -> dict[str, list[float]]:
    """The latency samples of several runs, pooled per statement."""
    return {
        k: [x for r in runs for x in r[f"{k}_ms"]]
        for k in ("claim", "commit", "finish", "stage_claim")
    }


def latency_table(report: Report, args: Any, results: list[dict[str, Any]]) -> None:
    smallest, largest = min(args.sizes), max(args.sizes)
    table = report.table(
        f"ssml claim with N finished jobs and {args.queued:,} queued ({args.rounds} rounds × "
        f"{args.claims:,} claims on one connection; pairs at concurrency 4)",
        [
            "finished jobs",
            "claim p50 ms",
            "claim p99 ms",
            "commit p50 ms",
            "commit p99 ms",
            "finish p50 ms",
            "pairs/s (c=4)",
            f"claim p99 / at {smallest:,}",
            "target ≤ 1.5×",
            "claim_audio p50 ms",
            "claim_audio p99 ms",
        ],
    )
    base_p99 = 0.0
    for size in args.sizes:
        mine = [r for r in results if r["size"] == size]
        timed = pooled(mine)
        p99 = percentile(timed["claim"], 99)
        base_p99 = base_p99 or p99
        ratio = p99 / base_p99
        table.add(
            size,
            median(timed["claim"]),
            p99,
            median(timed["commit"]),
            percentile(timed["commit"], 99),
            median(timed["finish"]),
            median([r["pairs_per_s"] for r in mine]),
            f"{ratio:.2f}×",
            verdict(ratio <= 1.5) if size == largest else "",
            median(timed["stage_claim"]),
            percentile(timed["stage_claim"], 99),
        )
    table.notes.append(LATENCY_NOTE)


def size_tables(report: Report, args: Any) -> None:
    sized = report.table(
        "Table and index sizes (MiB) with N finished items (job tables hold one row per item)",
        ["finished jobs", "table", "rows", "heap", "indexes", "total", "bytes per row"],
    )
    for size in args.sizes:
        for name, info in report.data["sizes"][str(size)].items():
            rows = max(info["rows"], 1)
            sized.add(
                size,
                name,
                info["rows"],
                mb(info["heap"]),
                mb(info["indexes"]),
                mb(info["total"]),
                info["total"] / rows,
            )
    if "passage" in report.data:
        p = report.data["passage"]
        moved = report.table(
            f"ssml_jobs when {args.passage:,} jobs pass through (queued → processing → "
            "completed, no vacuum in between), MiB",
            ["moment", "heap", "indexes", "total", "dead rows"],
        )
        for moment in p:
            info = p[moment]
            moved.add(
                moment, mb(info["heap"]), mb(info["indexes"]), mb(info["total"]), info["dead"]
            )


def purge_table(report: Report, args: Any) -> None:
    largest = max(args.sizes)
    q = report.data["purge"]
    report.table(
        f"Proposed purge (bench/purge.sql) at {largest:,}: completed ssml_jobs older than "
        f"{args.purge_days} days, batches of 10,000",
        [
            "rows deleted",
            "batches",
            "seconds",
            "slowest batch ms",
            "rows before",
            "rows after",
            "total MiB (VACUUM makes the space reusable; it does not shrink the file)",
        ],
    ).add(
        q["deleted"],
        q["batches"],
        q["seconds"],
        q["slowest_batch_ms"],
        q["before"]["rows"],
        q["after_vacuum"]["rows"],
        mb(q["after_vacuum"]["total"]),
    )


if __name__ == "__main__":
    main()
