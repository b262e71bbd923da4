"""`cuecast worker`: the functions served on loopback HTTP by functions-framework; a manual
start posted to the webhook with curl-like HTTP runs the whole pipeline over HTTP."""

from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shared.sample_video import write_sample_video
from tests.supa import complete_upload, create_user, insert_video


def _free_port_block(size: int = 5) -> int:
    """A block of ports nothing uses, below the kernel's ephemeral range, where the client
    sockets of the tests' own connections would otherwise take one between the check and
    the worker's bind."""
    for _ in range(200):
        base = random.randrange(20_000, 30_000)
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextmanager
def _worker(env: dict[str, str], tmp_path: Path, port: int, lines: int) -> Iterator[str]:
    """`cuecast worker --port port` running; yields the first `lines` lines it printed (all of
    them, or the test fails with its stderr) and keeps draining its output, so a full pipe never
    blocks it. Terminated on the way out, it must exit 0."""
    command = [sys.executable, "-m", "shared.cli", "worker", "--port", str(port)]
    with (
        (tmp_path / "stderr").open("w") as errors,
        subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=errors, text=True
        ) as worker,
    ):
        try:
            assert worker.stdout is not None
            said = [worker.stdout.readline() for _ in range(lines)]
            assert all(said), (tmp_path / "stderr").read_text()
            threading.Thread(target=worker.stdout.read, daemon=True).start()
            yield "".join(said)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert worker.returncode == 0


def test_worker_serves_the_functions_over_http(conn, db_url, tmp_path):
    secret = secrets.token_urlsafe(16)
    port = _free_port_block()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUECAST_")}
    env |= {
        "DATABASE_URL": db_url,
        "WEBHOOK_SECRET": secret,
        "CUECAST_STORAGE_DIR": str(tmp_path / "storage"),
        "CUECAST_HOME": str(tmp_path / ".cuecast"),
    }
    user = create_user(conn)
    video = insert_video(conn, user, name="clip.mp4")
    raw = tmp_path / "storage" / "raw" / str(user)
    raw.mkdir(parents=True)
    write_sample_video(raw / "clip.mp4")
    complete_upload(conn, user, video)
    with _worker(env, tmp_path, port, lines=7) as said:
        assert f"webhook         http://127.0.0.1:{port}/" in said
        answer = httpx.post(
            f"http://127.0.0.1:{port}/",
            json={"videoRecordingId": video},
            headers={"X-Webhook-Secret": secret},
        )
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = conn.execute(
                "select count(*), count(*) filter (where audio_status = 'completed')"
                " from analysis_feedback"
            ).fetchone()
            if row[0] and row[0] == row[1]:
                break
            time.sleep(0.2)
        assert row[0] >= 3 and row[0] == row[1], row


def test_worker_without_webhook_secret_uses_the_checkouts_and_says_where(conn, db_url, tmp_path):
    """The docs' curl, with the secret read from the file the worker names, is accepted; the
    Vault stand-in holds the same secret, so the upload trigger's ring is accepted too."""
    port = _free_port_block()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CUECAST_", "WEBHOOK_SECRET", "DATABASE_URL"))
    }
    env |= {"DATABASE_URL": db_url, "CUECAST_HOME": str(tmp_path / ".cuecast")}
    with _worker(env, tmp_path, port, lines=9) as said:
        path = tmp_path / ".cuecast" / "webhook-secret"
        assert f"WEBHOOK_SECRET unset: the webhook takes this checkout's, in {path}" in said
        secret = path.read_text().strip()
        assert secret not in said
        user = create_user(conn)
        video = insert_video(conn, user, name="clip.mp4")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/",
            json={"videoRecordingId": video},
            headers={"X-Webhook-Secret": secret},
        )
        assert answer.status_code == 202, answer.text
        vault = conn.execute(
            "select secret from vault.secrets where name = 'cuecast_webhook_secret'"
        ).fetchone()
        assert vault == (secret,)
