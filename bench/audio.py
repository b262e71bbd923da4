"""Wall time of the audio stage for one feedback item of 8 SSML segments, with a TTS double
that takes 200 ms per call: concurrent synthesis should make it ≈ one call, not eight.

Each repetition is one item's audio function run on its doorbell (claim and load, 8 x TTS
and upload, finish and save). Rows: the double at Cloud TTS's concurrency (8, as
GoogleSynthesizer) with in-memory and with local-directory storage, and at eSpeak's (1),
for contrast. Target: ≤ 1.5 x 200 ms at concurrency 8.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from bench import common
from bench.common import Report, median, percentile, verdict
from bench.doubles import InstantSynthesizer, MemoryStorage
from bench.harness import CuecastWorkers
from bench.seed import analyze, complete_ssml, seed_items
from shared.adapters.local_storage import LocalStorage
from shared.domain import Stage
from shared.ports import Storage

NAME = "audio"


def main(argv: list[str] | None = None) -> None:
    parser = common.parser(NAME, __doc__)
    parser.add_argument("--segments", type=int, default=8, help="SSML segments per item")
    parser.add_argument("--delay-ms", type=float, default=200.0, help="TTS double's latency")
    parser.add_argument("--repeat", type=int, default=10, help="items timed per row")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.WARNING)
    delay = args.delay_ms / 1000
    target = 1.5 * args.delay_ms

    with common.scratch_database(NAME) as url, tempfile.TemporaryDirectory() as tmp:
        report = Report(args.output, args, url)
        cases: list[tuple[str, int, Storage]] = [
            ("TTS concurrency 8, memory storage", 8, MemoryStorage()),
            ("TTS concurrency 8, local storage (fsync)", 8, LocalStorage(Path(tmp))),
            ("TTS concurrency 1 (as eSpeak), memory storage", 1, MemoryStorage()),
        ]
        with common.connect(url) as conn:
            ids = seed_items(conn, args.repeat * len(cases))
            complete_ssml(conn, ids, segments=args.segments)
            analyze(conn)
        table = report.table(
            f"Audio stage wall time, {args.segments} segments × {args.delay_ms:.0f} ms TTS "
            f"({args.repeat} items per row)",
            [
                "case",
                "median ms",
                "p90 ms",
                "max ms",
                "× one call",
                "sequential ms",
                f"target ≤ {target:.0f} ms",
            ],
        )
        for n, (case, concurrency, storage) in enumerate(cases):
            synthesizer = InstantSynthesizer(delay_s=delay, max_concurrency=concurrency)
            workers = CuecastWorkers(url, 1, synthesizer=synthesizer, storage=storage)
            times = []
            try:
                for item in ids[n * args.repeat : (n + 1) * args.repeat]:
                    times.append(1000 * workers.run([item], first=Stage.AUDIO, last=Stage.AUDIO))
            finally:
                workers.close()
            assert synthesizer.calls == args.segments * args.repeat, synthesizer.calls
            report.data[case] = [round(t, 1) for t in times]
            mid = median(times)
            table.add(
                case,
                mid,
                percentile(times, 90),
                max(times),
                f"{mid / args.delay_ms:.2f}×",
                args.segments * args.delay_ms,
                verdict(mid <= target) if concurrency >= args.segments else "",
            )
        table.notes.append(
            "Timed from the doorbell to the function's return: claim and load, synthesis and "
            "upload of every segment, finish and save, removal of older generations."
        )
        report.finish()


if __name__ == "__main__":
    main()
