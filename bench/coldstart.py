"""Cold starts: for each of the five functions, a fresh process from its start to the
functions-framework app built and to its first real event handled, on the production
adapters pointed at the local protocol servers of tests/adapters/servers.py (Gemini,
Text-to-Speech, Supabase Storage, the Pub/Sub emulator) and a real database.

Beside each, its floor (bench/floor.py): a process with functions-framework and only the SDK
modules that function's adapters need, handling the same event with them directly. The
events: a manual start for the webhook, a queued job for each stage, a sweep for reconcile.
Each row is the median of `--runs` fresh processes per side, the two sides alternating.
Target: every function's first event at most 1.2 x its floor's.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench import common
from bench.common import Report, median, verdict
from shared.messages import PUBSUB_EVENT_TYPE
from tests.adapters.servers import (
    FakeGemini,
    FakePubSub,
    FakeSupabaseStorage,
    FakeTextToSpeech,
    json_reply,
    make_mp3,
    text_reply,
)
from tests.db.helpers import add_feedback
from tests.supa import complete_upload, create_user, insert_video

NAME = "coldstart"
ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"cuecast": str(ROOT / "main.py"), "floor": str(ROOT / "bench" / "floor.py")}
FUNCTIONS = ("webhook", "start_analysis", "ssml", "audio", "reconcile")
ITEMS = [{"timestamp_seconds": 1.5, "category": "posture", "message": "Keep your back straight.",
          "confidence": 0.9, "impact": 0.8}]  # fmt: skip

# The child: process start (the parent's clock at spawn) → app built → first event handled.
CHILD = """
import json, os, sys, time
if os.environ.get("COLDSTART_PROFILE"):
    import cProfile, atexit, pstats
    _profile = cProfile.Profile(); _profile.enable()
    atexit.register(lambda: (_profile.disable(), pstats.Stats(_profile, stream=sys.stderr)
                             .sort_stats("cumulative").print_stats(45)))
t0, source, target, request = float(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
import functions_framework
app = functions_framework.create_app(target, source)
built = time.time() - t0
answer = app.test_client().post("/", json=request["json"], headers=request["headers"])
print(json.dumps({"built": built, "first": time.time() - t0, "status": answer.status_code}))
"""


def _event(data: dict[str, Any]) -> dict[str, Any]:
    message = {"data": base64.b64encode(json.dumps(data).encode()).decode(),
               "messageId": uuid.uuid4().hex}  # fmt: skip
    return {
        "json": {"specversion": "1.0", "id": message["messageId"], "type": PUBSUB_EVENT_TYPE,
                 "source": "//pubsub.googleapis.com/projects/p/topics/t",
                 "datacontenttype": "application/json",
                 "data": {"message": message, "subscription": "s"}},
        "headers": {"Content-Type": "application/cloudevents+json"},
    }  # fmt: skip


class Scenario:
    """Fresh work for each run of each function, and the fakes it talks to."""

    def __init__(self, conn: Any, gemini: FakeGemini, storage: FakeSupabaseStorage, secret: str):
        self.conn, self.gemini, self.storage, self.secret = conn, gemini, storage, secret
        self.video = os.urandom(200_000)  # Gemini is a fake: the bytes need not decode

    def _video(self, *, completed: bool) -> tuple[int, int | None]:
        user = create_user(self.conn)
        video = insert_video(self.conn, user, name=f"{uuid.uuid4().hex[:8]}.mp4")
        (path,) = self.conn.execute(
            "select storage_path from video_recordings where id = %s", (video,)
        ).fetchone()
        self.storage.put("raw", path, self.video, "video/mp4")
        if not completed:
            return video, None
        complete_upload(self.conn, user, video)
        (job,) = self.conn.execute(
            "select id from analysis_jobs where video_recording_id = %s", (video,)
        ).fetchone()
        return video, job

    def request(self, function: str) -> dict[str, Any]:
        if function == "webhook":
            video, _ = self._video(completed=False)
            return {"json": {"videoRecordingId": video},
                    "headers": {"X-Webhook-Secret": self.secret}}  # fmt: skip
        if function == "reconcile":
            return {"json": {}, "headers": {}}
        _, job = self._video(completed=True)
        if function == "start_analysis":
            self.gemini.replies.append(json_reply({"items": ITEMS}))
            return _event({"analysis_job_id": job})
        self.conn.execute("update analysis_jobs set status = 'completed' where id = %s", (job,))
        item = add_feedback(self.conn, job, 0, "Keep your back straight.")
        if function == "ssml":
            self.gemini.replies.append(text_reply("<speak>Keep your back straight.</speak>"))
            return _event({"feedback_id": item})
        claim = self.conn.execute(
            "select id, generation, attempts from cuecast.claim_ssml(%s::bigint, 300, 5)", (item,)
        ).fetchone()
        self.conn.execute(
            "select cuecast.finish_ssml(%s, %s, %s, 'builder', '1', %s, %s)",
            (*claim, [0], ["<speak>Keep your back straight.</speak>"]),
        )
        return _event({"feedback_id": item})


def _spawn(
    side: str, function: str, request: dict[str, Any], env: dict[str, str], *flags: str
) -> subprocess.CompletedProcess[str]:
    """One fresh child of `side` handling `request` (`flags` go to the interpreter); fails,
    with the child's stderr, when it exits non-zero."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, *flags, "-c", CHILD, repr(started), SOURCES[side], function,
         json.dumps(request)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{side} {function}: {done.stderr[-2000:]}")
    return done


def run_child(side: str, function: str, request: dict[str, Any], env: dict[str, str]) -> dict:
    done = _spawn(side, function, request, env)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not 200 <= result["status"] < 300:
        raise RuntimeError(f"{side} {function} answered {result['status']}: {done.stderr[-2000:]}")
    return result


def _import_times(side: str, function: str, request: dict[str, Any], env: dict[str, str]):
    """Self import time (µs) of every module one child of `side` imported."""
    done = _spawn(side, function, request, env, "-X", "importtime")
    times: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            own, _, name = line.removeprefix("import time:").split("|")
            times[name.strip()] = int(own)
    return times


def extra_imports(function: str, scenario: Scenario, env: dict[str, str]) -> str:
    """The modules cuecast's child imports and the floor's does not, heaviest first."""
    ours = _import_times("cuecast", function, scenario.request(function), env)
    floor = _import_times("floor", function, scenario.request(function), env)
    extra = sorted(((t, m) for m, t in ours.items() if m not in floor), reverse=True)
    lines = [f"{function}: {len(extra)} modules only cuecast imports,"
             f" {sum(t for t, _ in extra) / 1000:.1f} ms of self import time"
             f" (all: cuecast {sum(ours.values()) / 1000:.1f} ms,"
             f" floor {sum(floor.values()) / 1000:.1f} ms)"]  # fmt: skip
    lines += [f"{t / 1000:8.2f} ms  {m}" for t, m in extra[:40]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = common.parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per side")
    parser.add_argument("--only", nargs="*", choices=FUNCTIONS, help="some functions only")
    parser.add_argument(
        "--profile", choices=FUNCTIONS, help="run one cuecast child under cProfile, print, exit"
    )
    parser.add_argument(
        "--imports",
        choices=FUNCTIONS,
        help="run one child per side under -X importtime; print the modules only cuecast's"
        " imports, by self time, and exit",
    )
    args = parser.parse_args(argv)
    key = f"bench-service-role-{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(24)
    with (
        common.scratch_database(NAME) as url,
        FakeGemini() as gemini,
        FakeTextToSpeech(audio=make_mp3(seconds=1.0)) as tts,
        FakeSupabaseStorage(key) as storage,
        FakePubSub() as pubsub,
        common.connect(url) as conn,
    ):
        report = Report(args.output, args, url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CUECAST_", "DATABASE"))}
        env |= {
            "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "WEBHOOK_SECRET": secret,
            "CUECAST_STORAGE": "supabase", "SUPABASE_URL": storage.url,
            "SUPABASE_SERVICE_ROLE_KEY": key, "CUECAST_PUBLISHER": "pubsub",
            "GOOGLE_CLOUD_PROJECT": "cuecast-bench", "PUBSUB_EMULATOR_HOST": pubsub.host,
            "CUECAST_ANALYZER": "gemini", "CUECAST_SSML": "gemini",
            "GEMINI_API_KEY": f"bench-gemini-{secrets.token_hex(8)}",
            "CUECAST_GEMINI_BASE_URL": gemini.url, "CUECAST_TTS": "google",
            "CUECAST_TTS_ENDPOINT": tts.endpoint, "CUECAST_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        scenario = Scenario(conn, gemini, storage, secret)
        if args.imports:
            print(extra_imports(args.imports, scenario, env))
            return
        if args.profile:
            request = scenario.request(args.profile)
            done = _spawn("cuecast", args.profile, request, {**env, "COLDSTART_PROFILE": "1"})
            print(done.stdout, done.stderr[-12000:])
            return
        table = report.table(
            f"Cold start to the first event handled (median of {args.runs} fresh processes)",
            ["function", "cuecast: app built s", "cuecast: first event s", "floor: app built s",
             "floor: first event s", "× floor", "target ≤ 1.2×"],
        )  # fmt: skip
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for function in args.only or FUNCTIONS:
            sides: dict[str, list[dict[str, Any]]] = {"cuecast": [], "floor": []}
            for n in range(args.runs):
                for side in ("cuecast", "floor") if n % 2 == 0 else ("floor", "cuecast"):
                    sides[side].append(run_child(side, function, scenario.request(function), env))
            ours = median([r["first"] for r in sides["cuecast"]])
            floor = median([r["first"] for r in sides["floor"]])
            built = {s: median([r["built"] for r in sides[s]]) for s in sides}
            table.add(function, f"{built['cuecast']:.3f}", f"{ours:.3f}",
                      f"{built['floor']:.3f}", f"{floor:.3f}", f"{ours / floor:.2f}×",
                      verdict(ours <= 1.2 * floor))  # fmt: skip
            runs[function] = sides
        report.data = {"runs": runs}
        report.finish()


if __name__ == "__main__":
    main()
