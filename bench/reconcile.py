"""The reconciler against a bus that lags behind its doorbell grace (issue 15, item 1): does it
re-ring jobs that are only waiting?

The scenario (tests/lag.py): `--items` feedback items, their ssml doorbells published at
once; the bus holds every message `--lag` seconds before its first delivery, and each
delivery costs `--delivery-ms`; the real ssml and audio entry points behind the local runtime
(4 delivery workers, the SSML builder, a tone synthesizer); the reconciler sweeping every
`--sweep` seconds with a grace of `--grace`, or not at all. Needed: one ssml and one audio
doorbell per item. Targets: doorbells at most 1.2 x needed and drain at most 1.2 x the run
without sweeps at a lag of 5 x the grace; a lost doorbell rung within grace + one sweep; two
reconcilers at grace 0 ring no job twice.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from bench import common
from bench.common import Report, verdict
from shared.queue import PROBE_MARGIN_SECONDS
from tests.lag import run_lagging

NAME = "reconcile"


def main(argv: list[str] | None = None) -> None:
    parser = common.parser(NAME, __doc__)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--lag", type=float, default=5.0, help="seconds each message waits")
    parser.add_argument("--grace", type=float, default=1.0, help="doorbell grace, seconds")
    parser.add_argument("--sweep", type=float, default=1.0, help="seconds between sweeps")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.WARNING)

    with common.scratch_database(NAME) as url, tempfile.TemporaryDirectory() as tmp:
        report = Report(args.output, args, url)
        table = report.table(
            f"{args.items} items, bus lag {args.lag:g} s, grace {args.grace:g} s, "
            f"sweep every {args.sweep:g} s",
            ["delivery cost", "sweeps", "doorbells", "× needed", "probes", "drain s",
             "× no sweeps", "target ≤ 1.2× / ≤ 1.2×"],
        )  # fmt: skip
        runs = {}
        for delivery_ms in (0, 20):
            quiet = run_lagging(
                url, Path(tmp) / f"q{delivery_ms}", items=args.items, lag_s=args.lag,
                grace_s=args.grace, sweep_s=None, delivery_s=delivery_ms / 1000,
            )  # fmt: skip
            swept = run_lagging(
                url, Path(tmp) / f"s{delivery_ms}", items=args.items, lag_s=args.lag,
                grace_s=args.grace, sweep_s=args.sweep, delivery_s=delivery_ms / 1000,
            )  # fmt: skip
            for label, run in (("none", quiet), ("on", swept)):
                slower = run.drain_s / quiet.drain_s
                met = run.amplification <= 1.2 and slower <= 1.2
                table.add(f"{delivery_ms} ms", label, run.doorbells, f"{run.amplification:.2f}×",
                          run.probes, f"{run.drain_s:.1f}", f"{slower:.2f}×",
                          verdict(met) if label == "on" else "")  # fmt: skip
            runs[delivery_ms] = {"quiet": vars(quiet), "swept": vars(swept)}

        lost = report.table(
            "Lost doorbells: 10 of 50 items' first doorbells never published",
            ["case", "lost", "rung once", "rung twice", "rung after (max) s", "target"],
        )
        bound = args.grace + args.sweep + PROBE_MARGIN_SECONDS
        one = run_lagging(
            url, Path(tmp) / "lost", items=50, lag_s=0.0, grace_s=args.grace,
            sweep_s=args.sweep, lose=10,
        )  # fmt: skip
        two = run_lagging(
            url, Path(tmp) / "two", items=50, lag_s=args.lag, grace_s=0.0, sweep_s=0.05,
            reconcilers=2, lose=10,
        )  # fmt: skip
        cases = (
            (f"no lag, grace {args.grace:g} s, sweep {args.sweep:g} s", one,
             f"rung ≤ {bound:g} s: {verdict(max(one.rung_after_s) <= bound)}"),
            (f"two reconcilers, grace 0, sweep 0.05 s, lag {args.lag:g} s", two,
             f"none twice: {verdict(max(two.rings.values()) == 1)}"),
        )  # fmt: skip
        for label, run, target in cases:
            once = sum(1 for fid in run.lost if run.rings[fid] == 1)
            twice = sum(1 for n in run.rings.values() if n > 1)
            lost.add(label, len(run.lost), once, twice, f"{max(run.rung_after_s):.2f}", target)
        report.data = {"runs": runs, "lost": vars(one), "two": vars(two)}
        report.finish()


if __name__ == "__main__":
    main()
