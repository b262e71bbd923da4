"""Database round trips, statements and transactions per feedback item, for each stage,
counted at the driver (libpq's protocol trace of every pooled connection) and checked
against the server (`pg_stat_database.xact_commit` of the scratch database).

Each stage runs alone on `items` items with instant providers, through the real entry
points, on a pool built as `shared.database.make_pool` builds it (plus the trace).
Procrastinate's two-stage chain is counted the same way for comparison. Then each
statement's server time (bench/statements.py: planning, execution, triggers; EXPLAIN
ANALYZE, warm). Target: ≤ 2 transactions per item per stage.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from psycopg_pool import ConnectionPool

from bench import common, rival
from bench.common import Report, verdict
from bench.harness import CuecastWorkers
from bench.seed import analyze, complete_ssml, seed_items
from bench.statements import statement_costs
from bench.trace import Counts, Tracer
from shared.database import connect_kwargs
from shared.domain import Stage

NAME = "roundtrips"


def traced_pool(url: str, size: int, tracer: Tracer) -> ConnectionPool[Any]:
    """make_pool's pool (same kwargs and check), with every connection traced."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs=connect_kwargs(30_000),
        check=ConnectionPool.check_connection,
        configure=tracer.configure,
        open=True,
        name="cuecast-traced",
    )


def server_commits(url: str) -> int:
    time.sleep(0.3)  # backends that just exited flush their counters on exit
    with common.connect(url) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        row = conn.execute(
            "select xact_commit from pg_stat_database where datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def count_stage(
    url: str, ids: list[int], stage: Stage, concurrency: int, *, fused: bool = False
) -> tuple[Counts, int, float]:
    """(driver counts, server xact_commit delta, seconds) of one stage over `ids`."""
    tracer = Tracer(timestamps=True)
    pool = traced_pool(url, concurrency, tracer)
    workers = CuecastWorkers(url, concurrency, pool=pool, fused=fused)
    tracer.reset()  # the pool's warm-up is not the stage's
    before = server_commits(url)
    try:
        seconds = workers.run(ids, first=stage, last=stage)
        counts = tracer.collect()
    finally:
        workers.close()
        tracer.close()
    return counts, server_commits(url) - before - 1, seconds  # minus server_commits' own


def count_procrastinate(url: str, items: int) -> tuple[Counts, float]:
    tracer = Tracer(timestamps=True)
    try:
        seconds = rival.run(
            url, 1, items, before_start=tracer.reset, configure=tracer.configure_async
        )
        return tracer.collect(), seconds
    finally:
        tracer.close()


def main(argv: list[str] | None = None) -> None:
    parser = common.parser(NAME, __doc__)
    parser.add_argument("--items", type=int, default=500, help="feedback items per stage")
    parser.add_argument("--concurrency", type=int, default=1, help="worker threads")
    parser.add_argument("--no-procrastinate", action="store_true", help="skip the comparison")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.WARNING)

    with common.scratch_database(NAME) as url:
        report = Report(args.output, args, url)
        with common.connect(url) as conn:
            ids = seed_items(conn, args.items)
            fused_ids = seed_items(conn, args.items)
            analyze(conn)
        n = args.items
        table = report.table(
            f"Per feedback item, per stage ({n:,} items, concurrency {args.concurrency})",
            [
                "stage",
                "round trips",
                "statements",
                "transactions (driver)",
                "xact_commit (server)",
                "BEGIN … COMMIT",
                "pool checks",
                "target ≤ 2 tx",
            ],
        )
        kinds = report.table(
            "Statements per item, and the time waited on them (ms per item)",
            ["stage", "statement", "per item", "waited ms"],
        )
        times = report.table(
            f"Where an item's time goes at concurrency {args.concurrency} (ms per item)",
            [
                "stage",
                "wall",
                "waiting on COMMIT",
                "on statements",
                "on BEGIN + checks",
                "everything else (client)",
            ],
        )
        sides: list[tuple[str, Counts, float]] = []
        runs = [(str(s), s, False, ids) for s in (Stage.SSML, Stage.AUDIO)]
        runs += [(f"{s}, fused (proposal)", s, True, fused_ids) for s in (Stage.SSML, Stage.AUDIO)]
        for label, stage, fused, keys in runs:
            counts, commits, seconds = count_stage(url, keys, stage, args.concurrency, fused=fused)
            report.data[label] = {
                **vars(counts),
                "kinds": dict(counts.kinds),
                "waits": dict(counts.waits),
                "seconds": seconds,
                "server_xact_commit": commits,
            }
            tx = counts.transactions / n
            table.add(
                label,
                counts.roundtrips / n,
                counts.statements / n,
                tx,
                commits / n,
                counts.begins / n,
                counts.checks / n,
                verdict(tx <= 2),
            )
            sides.append((label, counts, seconds))
        if not args.no_procrastinate:
            with common.scratch_database(f"{NAME}_procrastinate", migrated=False) as rival_url:
                rival.install_schema(rival_url)
                counts, seconds = count_procrastinate(rival_url, n)
            report.data["procrastinate"] = {
                **vars(counts),
                "kinds": dict(counts.kinds),
                "waits": dict(counts.waits),
                "seconds": seconds,
            }
            table.add(
                "Procrastinate, both tasks",
                counts.roundtrips / n,
                counts.statements / n,
                counts.transactions / n,
                "–",
                counts.begins / n,
                counts.checks / n,
                "",
            )
            sides.append(("Procrastinate, both tasks", counts, seconds))
        for side, counts, seconds in sides:
            for head, number in counts.kinds.most_common():
                kinds.add(side, f"`{head}`", number / n, 1000 * counts.waits[head] / n)
            waits = {k: 1000 * v / n for k, v in counts.waits.items()}
            commit = waits.get("COMMIT", 0.0)
            control = waits.get("BEGIN", 0.0) + waits.get("check", 0.0)
            statements = sum(waits.values()) - commit - control
            wall = 1000 * seconds / n
            times.add(side, wall, commit, statements, control, wall - commit - statements - control)
        table.notes.append(
            "Round trips are server ReadyForQuery messages; pool checks are psycopg_pool's "
            "`check_connection` (an empty query) on every `pool.connection()`; the server's "
            "xact_commit also counts each check as a transaction. Procrastinate's LISTEN "
            "connection is not traced."
        )
        times.notes.append(
            "Waits run from a round trip's first message to the server's ReadyForQuery "
            "(libpq trace timestamps): network, server work and, for COMMIT, the WAL flush; "
            "a fused statement runs in autocommit, so its WAL flush counts under statements."
        )
        statement_table(report, url)
        report.finish()


def statement_table(report: Report, url: str) -> None:
    costs = report.table(
        "Server time per statement (ms, median of warm EXPLAIN ANALYZE runs)",
        ["stage", "statement", "planning", "execution", "of which triggers"],
    )
    with common.connect(url) as conn:
        spare = seed_items(conn, 2)
        complete_ssml(conn, spare[1:])
    rows = statement_costs(url, Stage.SSML, spare[0]) + statement_costs(url, Stage.AUDIO, spare[1])
    report.data["statement_costs"] = rows
    for row in rows:
        costs.add(
            row["stage"],
            f"`{row['statement']}`",
            row["planning"],
            row["execution"],
            row["triggers"],
        )
    for stage in (Stage.SSML, Stage.AUDIO):
        mine = [r for r in rows if r["stage"] == str(stage)]
        costs.add(
            str(stage),
            "**all**",
            sum(r["planning"] for r in mine),
            sum(r["execution"] for r in mine),
            sum(r["triggers"] for r in mine),
        )
    costs.notes.append(
        "Planning is paid on every execution: cuecast runs unprepared "
        "(prepare_threshold=None) for Supabase's transaction pooler."
    )


if __name__ == "__main__":
    main()
