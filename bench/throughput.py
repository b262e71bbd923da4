"""Items per second through the ssml and audio stages with instant providers, cuecast
against Procrastinate running the same two-stage chain, at worker concurrency 1, 4 and 16.

All sides run in this one process, alternating (the order rotates every round), each on
its own database on the same server, each run starting from empty tables with `items`
first-stage jobs queued (not timed). Target: cuecast ≥ 2x Procrastinate at every
concurrency. CPU per item is measured for this process (client) and for the database
backends serving the run (server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bench import common, rival
from bench.common import CpuMeter, Report, median, verdict
from bench.harness import CuecastWorkers
from bench.seed import analyze, clear_items, seed_items

NAME = "throughput"
Runner = Callable[[int, int, CpuMeter], float]


def cuecast_runner(url: str) -> Runner:
    def run(concurrency: int, items: int, meter: CpuMeter) -> float:
        with common.connect(url) as conn:
            clear_items(conn)
            ids = seed_items(conn, items)
            analyze(conn)
        workers = CuecastWorkers(url, concurrency)
        try:
            seconds = workers.run(ids, on_start=meter.start, on_done=meter.stop)
        finally:
            workers.close()
        with common.connect(url) as conn:
            row = conn.execute(
                "select count(*) filter (where audio_status = 'completed')"
                " from public.analysis_feedback"
            ).fetchone()
        if row is None or row[0] != items:
            raise RuntimeError(f"cuecast completed {row} items, expected {items}")
        return seconds

    return run


def procrastinate_runner(url: str) -> Runner:
    def run(concurrency: int, items: int, meter: CpuMeter) -> float:
        rival.clear(url)
        return rival.run(url, concurrency, items, before_start=meter.start, on_done=meter.stop)

    return run


def main(argv: list[str] | None = None) -> None:
    parser = common.parser(NAME, __doc__)
    parser.add_argument("--items", type=int, default=5000, help="feedback items per run")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 4, 16], help="worker threads"
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs per side and concurrency")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.WARNING)  # no side logs each job

    with (
        common.scratch_database(NAME) as url,
        common.scratch_database(f"{NAME}_procrastinate", migrated=False) as rival_url,
    ):
        rival.install_schema(rival_url)
        report = Report(args.output, args, url)
        sides: dict[str, tuple[Runner, str]] = {
            "cuecast": (cuecast_runner(url), url),
            "procrastinate": (procrastinate_runner(rival_url), rival_url),
        }
        runs: list[dict[str, Any]] = []
        for round_ in range(args.rounds):
            for concurrency in args.concurrency:
                order = list(sides)
                order = order[round_ % len(order) :] + order[: round_ % len(order)]
                for side in order:
                    run, side_url = sides[side]
                    meter = CpuMeter(side_url)
                    seconds = run(concurrency, args.items, meter)
                    rate = args.items / seconds
                    runs.append(
                        {
                            "round": round_,
                            "concurrency": concurrency,
                            "side": side,
                            "seconds": round(seconds, 3),
                            "items_per_s": round(rate, 1),
                            "client_cpu_ms_per_item": round(meter.client * 1000 / args.items, 3),
                            "server_cpu_ms_per_item": round(meter.server * 1000 / args.items, 3),
                        }
                    )
                    print(
                        f"round {round_} c={concurrency:>2} {side:<13} {rate:8.1f} items/s"
                        f"  cpu ms/item client {meter.client * 1000 / args.items:.2f}"
                        f" server {meter.server * 1000 / args.items:.2f}",
                        flush=True,
                    )
        report.data["runs"] = runs
        summarise(report, runs, list(sides), args)
        report.finish()


def summarise(report: Report, runs: list[dict[str, Any]], sides: list[str], args: Any) -> None:
    def pick(side: str, concurrency: int, key: str) -> list[float]:
        return [
            float(r[key]) for r in runs if r["side"] == side and r["concurrency"] == concurrency
        ]

    table = report.table(
        f"Throughput: {args.items:,} items through ssml + audio (median of {args.rounds} rounds)",
        [
            "concurrency",
            "cuecast items/s",
            "Procrastinate items/s",
            "ratio",
            "per-round ratios",
            "target ≥ 2×",
        ],
    )
    cpu = report.table(
        "CPU per item (ms, median): client = this process, server = the run's backends",
        ["concurrency", "side", "items/s", "client CPU", "server CPU", "vs cuecast"],
    )
    for concurrency in args.concurrency:
        ours = pick("cuecast", concurrency, "items_per_s")
        theirs = pick("procrastinate", concurrency, "items_per_s")
        ratio = median(ours) / median(theirs)
        table.add(
            concurrency,
            median(ours),
            median(theirs),
            f"{ratio:.2f}×",
            " ".join(f"{a / b:.2f}" for a, b in zip(ours, theirs, strict=True)),
            verdict(ratio >= 2),
        )
        for side in sides:
            rate = median(pick(side, concurrency, "items_per_s"))
            cpu.add(
                concurrency,
                side,
                rate,
                median(pick(side, concurrency, "client_cpu_ms_per_item")),
                median(pick(side, concurrency, "server_cpu_ms_per_item")),
                f"{rate / median(ours):.2f}×",
            )
    table.notes.append(
        "Each side: empty tables, then the items' first-stage jobs queued (not timed); timed "
        "from the first doorbell to the last second-stage job done. Procrastinate's tasks "
        "do nothing but defer; cuecast's stages also load their context and write segment "
        "rows."
    )


if __name__ == "__main__":
    main()
