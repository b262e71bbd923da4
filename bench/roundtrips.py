"""Database round trips, statements and transactions per feedback item, for each stage,
counted at the driver (libpq's protocol trace of every pooled connection) and checked
against the server (`pg_stat_database.xact_commit` of the scratch database).

Each stage runs alone on `items` items with instant providers, through the real entry
points, on a pool built as `shared.pool.make_pool` builds it (same connection settings,
same `IdleCheck`; plus the trace). Procrastinate's two-stage chain is counted the same way
for comparison. Then each statement's server time (bench/statements.py: planning,
execution, triggers; EXPLAIN ANALYZE, warm; the functions inside with track_functions).
Target: ≤ 2 transactions per item per stage.
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
from shared.domain import Stage
from shared.pool import IdleCheck, connect_kwargs

NAME = "roundtrips"


def traced_pool(url: str, size: int, tracer: Tracer) -> ConnectionPool[Any]:
    """make_pool's pool (same kwargs, the same idle check), with every connection traced."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs=connect_kwargs(30_000),
        check=IdleCheck(),
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
    url: str, ids: list[int], stage: Stage, concurrency: int
) -> tuple[Counts, int, float]:
    """(driver counts, server xact_commit delta, seconds) of one stage over `ids`."""
    tracer = Tracer(timestamps=True)
    pool = traced_pool(url, concurrency, tracer)
    workers = CuecastWorkers(url, concurrency, pool=pool)
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
        for stage in (Stage.SSML, Stage.AUDIO):
            label = str(stage)
            counts, commits, seconds = count_stage(url, ids, stage, args.concurrency)
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
            "Round trips are server ReadyForQuery messages; pool checks are the empty queries "
            "of the pool's check before lending a connection (cuecast: `IdleCheck`, only for "
            "a connection not lent in the last 2 s; Procrastinate: its connector's); the server's "
            "xact_commit also counts each check as a transaction. Procrastinate's LISTEN "
            "connection is not traced."
        )
        times.notes.append(
            "Waits run from a round trip's first message to the server's ReadyForQuery "
            "(libpq trace timestamps): network, server work and, for COMMIT, the WAL flush. "
            "cuecast's stage statements run in autocommit, so their commit, and the audio "
            "finish's WAL flush, count under statements (the claims and the SSML finish do not "
            "wait for the flush: their functions set synchronous_commit off)."
        )
        statement_table(report, url)
        report.finish()


def statement_table(report: Report, url: str) -> None:
    costs = report.table(
        "Server time per statement (ms, median of warm EXPLAIN ANALYZE runs; inside, the "
        "self time of each function it ran)",
        ["stage", "statement", "planning", "execution", "of which triggers"],
    )
    with common.connect(url) as conn:
        spare = seed_items(conn, 2)
        complete_ssml(conn, spare[1:])
    rows = statement_costs(url, Stage.SSML, spare[0]) + statement_costs(url, Stage.AUDIO, spare[1])
    report.data["statement_costs"] = rows
    for row in rows:
        name, calls = row["statement"], row["calls"]
        times = f" ×{calls:g}" if calls != 1 else ""
        if row["inside"] == "function":
            label = f"↳ `{name}`{times}"
        elif row["inside"] == "trigger":
            label = f"↳ in triggers: `{name}`{times}"
        else:
            label = f"`{name}`"
        costs.add(
            row["stage"],
            label,
            "–" if row["planning"] is None else row["planning"],
            row["execution"],
            "–" if row["triggers"] is None else row["triggers"],
        )
    for stage in (Stage.SSML, Stage.AUDIO):
        mine = [r for r in rows if r["stage"] == str(stage) and r["inside"] is None]
        costs.add(
            str(stage),
            "**all**",
            sum(r["planning"] for r in mine),
            sum(r["execution"] for r in mine),
            sum(r["triggers"] for r in mine),
        )
    if any(r["inside"] for r in rows):
        costs.notes.append(
            "A ↳ row is a function the statement above ran (`track_functions = all`, same "
            "run): its self time — its own statements, their planning included, without the "
            "functions and triggers they ran — and its calls when not one. `in triggers`: "
            "run by a trigger; their self times add up to the statement's trigger time. "
            "What a statement's execution has beyond its ↳ rows is the executor and PL/pgSQL "
            "around them. **all** adds the stage statements only."
        )
    else:
        costs.notes.append(
            "track_functions could not be set: the functions inside the statements are not "
            "shown, and trigger time is only what EXPLAIN reports for the function call "
            "(none)."
        )
    costs.notes.append(
        "Planning is of the stage statement, paid on every execution: cuecast runs "
        "unprepared (prepare_threshold=None) for Supabase's transaction pooler. The "
        "statements inside the PL/pgSQL functions are planned by PL/pgSQL, which keeps "
        "their plans per server session (in their function's self time when it plans)."
    )


if __name__ == "__main__":
    main()
