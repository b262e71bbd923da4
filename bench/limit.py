"""The ceiling: how fast this database runs the smallest transaction pair a stage needs —
claim one job with the stage's own claim (`claim_job`: cuecast.claim_<table>), finish it
(`finish_job`: cuecast.finish_<table>), two autocommit statements on a plain psycopg
connection, no Python beyond the driver — and cuecast's stage executions per second (the
real entry point, instant providers: `claim_ssml` / `claim_audio`, the work, then
`finish_ssml` / `finish_audio`) as a fraction of it, at concurrency 1 and 4.

The pair runs unprepared (as cuecast must behind Supabase's transaction pooler) and with
server-side prepared statements; the ceiling is the faster of the two. Procrastinate's
two-task chain (as in bench.throughput) runs in the same rounds, so its task executions/s
can be set against the same ceiling. All runs alternate within each round.
Target: >= 50% of the ceiling at concurrency 4.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bench import common, rival
from bench.common import Report, median, verdict
from bench.harness import CuecastWorkers
from bench.seed import analyze, clear_items, complete_ssml, seed_items
from shared.domain import Stage
from shared.queries import stage_query

NAME = "limit"
POLICY = {"lease_seconds": 300, "max_attempts": 5}


def fresh_items(url: str, count: int, stage: Stage) -> list[int]:
    """`count` items whose `stage` job is queued, on otherwise empty tables."""
    with common.connect(url) as conn:
        clear_items(conn)
        ids = seed_items(conn, count)
        if stage is Stage.AUDIO:
            complete_ssml(conn, ids)
        analyze(conn)
    return ids


def pair_seconds(url: str, stage: Stage, ids: list[int], concurrency: int, prepared: bool) -> float:
    """Claim-and-finish every id, `concurrency` connections each taking its share."""
    conns = [common.connect(url) for _ in range(concurrency)]
    claim_sql = stage_query(stage, "claim_job").as_string(conns[0])
    finish_sql = stage_query(stage, "finish_job").as_string(conns[0])
    barrier = threading.Barrier(concurrency + 1)
    failures: list[int] = []

    def loop(index: int) -> None:
        conn = conns[index]
        barrier.wait()
        for key in ids[index::concurrency]:
            row = conn.execute(claim_sql, {"key": key, **POLICY}, prepare=prepared).fetchone()
            if row is None:
                failures.append(key)
                continue
            params = {"id": row[0], "generation": row[2], "attempts": row[3]}
            if conn.execute(finish_sql, params, prepare=prepared).fetchone() is None:
                failures.append(key)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    for conn in conns:
        conn.close()
    if failures:
        raise RuntimeError(f"{len(failures)} pairs found nothing to claim or finish")
    return seconds


def cuecast_seconds(url: str, stage: Stage, ids: list[int], concurrency: int) -> float:
    workers = CuecastWorkers(url, concurrency)
    try:
        return workers.run(ids, first=stage, last=stage)
    finally:
        workers.close()


def procrastinate_seconds(url: str, executions: int, concurrency: int) -> float:
    """Procrastinate's two-task chain on executions/2 items: the same number of task
    executions as a cuecast run has stage executions."""
    rival.clear(url)
    return rival.run(url, concurrency, executions // 2)


def main(argv: list[str] | None = None) -> None:
    parser = common.parser(NAME, __doc__)
    parser.add_argument("--items", type=int, default=2000, help="jobs per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each kind")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.WARNING)

    with (
        common.scratch_database(NAME) as url,
        common.scratch_database(f"{NAME}_procrastinate", migrated=False) as rival_url,
    ):
        rival.install_schema(rival_url)
        report = Report(args.output, args, url)
        kinds: dict[str, Callable[[Stage, list[int], int], float]] = {
            "pair unprepared": lambda s, ids, c: pair_seconds(url, s, ids, c, prepared=False),
            "pair prepared": lambda s, ids, c: pair_seconds(url, s, ids, c, prepared=True),
            "cuecast": lambda s, ids, c: cuecast_seconds(url, s, ids, c),
        }
        runs: list[dict[str, Any]] = []

        def record(round_: int, concurrency: int, stage: str, kind: str, rate: float) -> None:
            runs.append(
                {
                    "round": round_,
                    "concurrency": concurrency,
                    "stage": stage,
                    "kind": kind,
                    "per_s": round(rate, 1),
                }
            )
            print(f"round {round_} c={concurrency} {stage:<5} {kind:<16} {rate:8.1f}/s", flush=True)

        for round_ in range(args.rounds):
            for concurrency in args.concurrency:
                for stage in (Stage.SSML, Stage.AUDIO):
                    order = list(kinds)
                    order = order[round_ % len(order) :] + order[: round_ % len(order)]
                    for kind in order:
                        ids = fresh_items(url, args.items, stage)
                        seconds = kinds[kind](stage, ids, concurrency)
                        record(round_, concurrency, str(stage), kind, args.items / seconds)
                seconds = procrastinate_seconds(rival_url, args.items, concurrency)
                record(round_, concurrency, "both", "procrastinate", args.items / seconds)
        report.data["runs"] = runs
        tabulate(report, args, runs)
        report.finish()


def tabulate(report: Report, args: Any, runs: list[dict[str, Any]]) -> None:
    def rate(kind: str, stage: str, concurrency: int) -> float:
        return median(
            [
                float(r["per_s"])
                for r in runs
                if r["kind"] == kind and r["stage"] == stage and r["concurrency"] == concurrency
            ]
        )

    table = report.table(
        f"Stage executions/s against the claim+finish pair ({args.items:,} jobs per run, "
        f"median of {args.rounds})",
        [
            "concurrency",
            "stage",
            "pair/s unprepared",
            "pair/s prepared",
            "cuecast executions/s",
            "fraction of ceiling",
            "target ≥ 50% at 4",
        ],
    )
    rivals = report.table(
        "What 2× Procrastinate would take: its task executions/s (the same two-task chain "
        "of throughput) against the pair ceiling",
        [
            "concurrency",
            "Procrastinate task executions/s",
            "2× that",
            "pair ceiling (ssml)",
            "cuecast executions/s (ssml)",
            "cuecast ÷ Procrastinate",
            "2× Procrastinate within the ceiling?",
        ],
    )
    for concurrency in args.concurrency:
        for stage in (str(Stage.SSML), str(Stage.AUDIO)):
            ceiling = max(
                rate("pair unprepared", stage, concurrency),
                rate("pair prepared", stage, concurrency),
            )
            ours = rate("cuecast", stage, concurrency)
            fraction = ours / ceiling
            target = verdict(fraction >= 0.5) if concurrency == 4 else ""
            table.add(
                concurrency,
                stage,
                rate("pair unprepared", stage, concurrency),
                rate("pair prepared", stage, concurrency),
                ours,
                f"{fraction:.0%}",
                target,
            )
        theirs = rate("procrastinate", "both", concurrency)
        ssml = str(Stage.SSML)
        ceiling = max(
            rate("pair unprepared", ssml, concurrency), rate("pair prepared", ssml, concurrency)
        )
        rivals.add(
            concurrency,
            theirs,
            2 * theirs,
            ceiling,
            rate("cuecast", ssml, concurrency),
            f"{rate('cuecast', ssml, concurrency) / theirs:.2f}×",
            "yes" if 2 * theirs <= ceiling else "no: above the ceiling",
        )
    table.notes.append(
        "A pair is the stage's `claim_job` then `finish_job` (cuecast.claim_<table>, "
        "cuecast.finish_<table>) as two autocommit statements on one connection: two commits, "
        "of which only the finish waits for the WAL flush (the claim function sets "
        "synchronous_commit off for its transaction). A cuecast execution is the stage's "
        "function on a doorbell, also two autocommit statements: the claim with the stage's "
        "context (`claim_ssml` / `claim_audio`, which call the same claim function), the "
        "work, and the finish with the stage's writes (`finish_ssml` / `finish_audio`, "
        "which call the same finish function). The SSML finish does not wait for the WAL "
        "flush (migration 20251205000001) where its pair's finish does; the audio finish "
        "waits, like its pair's."
    )
    rivals.notes.append(
        "Procrastinate runs two tasks per item, cuecast two stage executions: the rates "
        "compare one to one."
    )


if __name__ == "__main__":
    main()
