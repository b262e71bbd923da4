"""Hostile requests: video rows whose storage_path points somewhere it must not, and webhook
calls with a wrong secret, an oversized body or the wrong content type.

A hostile storage_path (the app may write any path into its own video row) fails the job
permanently at start-analysis before any storage call: the Storage port is a recording fake,
and it records nothing. A refused webhook call answers its status, publishes nothing and
changes no row; the bait is a recording with no job, which any accepted call would create.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from shared.domain import Analysis, FeedbackItem
from shared.errors import ConfigurationError
from shared.settings import Secret
from tests.hostile.deliveries import b64_json, post, pubsub_message, snapshot, structured
from tests.pipeline.harness import pipeline
from tests.supa import acting_as, create_user

OTHER = "0b7e8d2c-1111-4222-8333-944455556666"
HOSTILE_PATHS = {  # {user} is the owner's id
    "parent folder": "{user}/../" + OTHER + "/clip.mp4",
    "leading parent": "../{user}/clip.mp4",
    "absolute": "/{user}/clip.mp4",
    "absolute system file": "/etc/passwd",
    "another user's folder": OTHER + "/clip.mp4",
    "bucket in the path": "raw/{user}/clip.mp4",
    "https URL": "https://evil.example/{user}/clip.mp4",
    "file URL": "file:///{user}/clip.mp4",
    "s3 URL": "s3://raw/{user}/clip.mp4",
    "encoded dots": "{user}/%2e%2e/" + OTHER + "/clip.mp4",
    "encoded traversal in one segment": "{user}/..%2f" + OTHER + "%2fclip.mp4",
    "double-encoded traversal": "{user}/%252e%252e%252f" + OTHER + "%252fclip.mp4",
    "fullwidth dots": "{user}/\uff0e\uff0e/" + OTHER + "/clip.mp4",
    "two-dot leader": "{user}/\u2025/" + OTHER + "/clip.mp4",
    "backslash traversal": "{user}\\..\\" + OTHER + "\\clip.mp4",
    "backslash in a name": "{user}/sub\\clip.mp4",
    "empty": "",
    "only the owner folder": "{user}",
    "trailing slash": "{user}/",
    "empty segment": "{user}//clip.mp4",
    "dot segment": "{user}/./clip.mp4",
    "newline": "{user}/clip.mp4\n",
    "upper-case owner": "{USER}/clip.mp4",
    "too long": "{user}/" + "x" * 1100,
}


class RecordingStorage:
    """A fake Storage port that records every call; serves a few bytes for any read."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def open_read(self, bucket, path):
        self.calls.append(("open_read", bucket, path))
        return _stream(b"not really a video")

    def upload(self, bucket, path, data, content_type):
        self.calls.append(("upload", bucket, path))

    def delete(self, bucket, paths):
        self.calls += [("delete", bucket, path) for path in paths]

    def list(self, bucket, prefix):
        self.calls.append(("list", bucket, prefix))
        return []


@contextmanager
def _stream(data: bytes) -> Iterator[io.BytesIO]:
    yield io.BytesIO(data)


class CountingAnalyzer:
    """A fake Analyzer port: one item for any video; counts its calls."""

    calls = 0

    def analyze(self, video, *, size, content_type, voice):
        self.calls += 1
        item = FeedbackItem(0.5, "pacing", "Slow down a little.", 0.9, 0.6)
        return Analysis(duration_seconds=3.0, items=(item,), provider="fake")


@pytest.fixture(scope="module")
def site(module_db_url, tmp_path_factory):
    """The pipeline with recording fakes, and a bait recording that has no job."""
    with (
        psycopg.connect(module_db_url, autocommit=True) as conn,
        pipeline(module_db_url, tmp_path_factory.mktemp("requests")) as p,
    ):
        p.app.storage, p.app.analyzer = RecordingStorage(), CountingAnalyzer()
        bait = _video(conn, create_user(conn), "{user}/bait.mp4", "pending")
        yield conn, p, bait


def _video(conn, user, path: str, upload_status: str = "completed") -> int:
    """A video row as the app writes it (as its owner), with the path it chose."""
    path = path.format(user=user, USER=str(user).upper())
    with acting_as(conn, "authenticated", user):
        row = conn.execute(
            "insert into video_recordings (user_id, filename, storage_path, format,"
            " upload_status) values (%s, 'clip.mp4', %s, 'mp4', %s) returning id",
            (user, path, upload_status),
        ).fetchone()
    return row[0]


def _start(conn, p, video: int) -> tuple:
    (job_id,) = conn.execute(
        "select id from analysis_jobs where video_recording_id = %s", (video,)
    ).fetchone()
    delivery = structured(pubsub_message(b64_json({"analysis_job_id": job_id})))
    assert post(p.clients["start_analysis"], delivery).status_code == 200
    return conn.execute(
        "select status, attempts, error_message from analysis_jobs where id = %s", (job_id,)
    ).fetchone()


@pytest.mark.parametrize("name", list(HOSTILE_PATHS))
def test_hostile_storage_path_fails_before_any_storage_call(site, name):
    conn, p, _ = site
    p.app.storage.calls.clear()
    analyzed = p.app.analyzer.calls
    video = _video(conn, create_user(conn), HOSTILE_PATHS[name])
    status, attempts, error = _start(conn, p, video)
    assert (status, attempts) == ("failed", 1)
    assert "path" in error
    assert p.app.storage.calls == []
    assert p.app.analyzer.calls == analyzed


def test_the_owner_s_own_path_reaches_storage(site):
    conn, p, _ = site
    p.app.storage.calls.clear()
    user = create_user(conn)
    status, attempts, _ = _start(conn, p, _video(conn, user, "{user}/2025/take 1 (final).mp4"))
    assert (status, attempts) == ("completed", 1)
    assert p.app.storage.calls == [("open_read", "raw", f"{user}/2025/take 1 (final).mp4")]


def test_postgres_refuses_a_nul_in_a_path(site):
    conn, _, _ = site
    with pytest.raises(psycopg.DataError, match="NUL"):
        _video(conn, create_user(conn), "{user}/clip\x00.mp4")


SECRET_CHANGES = {
    "random": lambda s: "x" * len(s),
    "first byte": lambda s: ("B" if s[0] != "B" else "C") + s[1:],
    "doubled": lambda s: s + s,
    "comma-joined twice": lambda s: f"{s}, {s}",
    "prefixed Bearer": lambda s: f"Bearer {s}",
    "non-ASCII last character": lambda s: s[:-1] + "é",
    "Cyrillic look-alike (UTF-8 on the wire)": lambda s: s[:-1] + "а".encode().decode("latin-1"),
    "fullwidth (UTF-8 on the wire)": lambda s: (
        "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)
        .encode()
        .decode("latin-1")
    ),
    "trailing NUL": lambda s: s + "\x00",
}


def _hook(p, body=None, *, secret=None, headers=None, data=None, **kwargs):
    sent = {"X-Webhook-Secret": p.secret if secret is None else secret, **(headers or {})}
    sent = {k: v for k, v in sent.items() if v is not None}
    payload = {"json": body} if data is None else {"data": data}
    return p.clients["webhook"].post("/", headers=sent, **payload, **kwargs)


def _refused(site, status: int, send) -> None:
    conn, p, _ = site
    before, published = snapshot(conn), len(p.bus.published)
    response = send(p)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert snapshot(conn) == before
    assert len(p.bus.published) == published


@pytest.mark.parametrize("change", list(SECRET_CHANGES))
def test_almost_right_secret_is_401(site, change):
    body = {"videoRecordingId": site[2]}
    _refused(site, 401, lambda p: _hook(p, body, secret=SECRET_CHANGES[change](p.secret)))


@pytest.mark.parametrize(
    "where",
    ["Authorization", "X-Webhook-Secret-Other", "query", "body"],
)
def test_the_secret_anywhere_but_its_header_is_401(site, where):
    def send(p):
        body = {"videoRecordingId": site[2]}
        headers = {"X-Webhook-Secret": None}
        if where == "query":
            return _hook(p, body, headers=headers, query_string={"secret": p.secret})
        if where == "body":
            return _hook(p, {**body, "secret": p.secret}, headers=headers)
        return _hook(p, body, headers={**headers, where: p.secret})

    _refused(site, 401, send)


def test_a_wrong_header_before_the_right_one_is_401(site):
    def send(p):
        headers = [("X-Webhook-Secret", "wrong"), ("X-Webhook-Secret", p.secret)]
        return p.clients["webhook"].post("/", json={"videoRecordingId": site[2]}, headers=headers)

    _refused(site, 401, send)


@pytest.mark.parametrize("configured", ["", "   "])
def test_a_blank_configured_secret_opens_nothing(site, configured):
    _, p, bait = site
    with pytest.raises(ConfigurationError, match="WEBHOOK_SECRET"):
        type(p.app.settings)(WEBHOOK_SECRET=configured, DATABASE_URL="x").require("webhook_secret")
    saved = p.app.settings.webhook_secret
    p.app.settings.webhook_secret = Secret(configured)
    try:
        for secret in (configured, ""):
            _refused(site, 401, lambda p, s=secret: _hook(p, {"videoRecordingId": bait}, secret=s))
    finally:
        p.app.settings.webhook_secret = saved


LIMIT = 256 * 1024
JSON = {"Content-Type": "application/json"}


def _padded(body: dict, size: int) -> bytes:
    text = json.dumps(body).encode()
    return text + b" " * (size - len(text))


def _chunked(p, data: bytes):
    """A chunked body declares no length; gunicorn marks such a stream terminated."""
    return p.clients["webhook"].post(
        "/",
        input_stream=io.BytesIO(data),
        headers={"X-Webhook-Secret": p.secret, "Content-Type": "application/json",
                 "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )  # fmt: skip


BODIES = {
    "declared one byte over": lambda p, b: _hook(p, data=_padded(b, LIMIT + 1), headers=JSON),
    "declared 10 MB": lambda p, b: _hook(p, data=_padded(b, 10 << 20), headers=JSON),
    "chunked one byte over": lambda p, b: _chunked(p, _padded(b, LIMIT + 1)),
    "chunked 10 MB": lambda p, b: _chunked(p, _padded(b, 10 << 20)),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_an_oversized_body_is_413(site, name):
    body = {"videoRecordingId": site[2]}
    _refused(site, 413, lambda p: BODIES[name](p, body))


@pytest.mark.parametrize(
    "data",
    ["[" * 100_000, '{"videoRecordingId": ' + "9" * 5000 + "}", "\xff\xfe{", ""],
    ids=["nested 100000 deep", "5000-digit id", "not UTF-8", "empty"],
)
def test_an_unreadable_json_body_is_400(site, data):
    raw = data.encode("latin-1")
    headers = {"Content-Type": "application/json"}
    _refused(site, 400, lambda p: _hook(p, data=raw, headers=headers))


CONTENT_TYPES = [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/xml", "text/html", "application/octet-stream", "application/jsonx", None,
]  # fmt: skip


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_body_that_is_not_declared_json_is_415(site, content_type):
    data = json.dumps({"videoRecordingId": site[2]}).encode()
    headers = {"Content-Type": content_type}
    _refused(site, 415, lambda p: _hook(p, data=data, headers=headers))


def test_a_body_at_the_limit_and_chunked_bodies_are_accepted(conn, db_url, tmp_path):
    """The limits refuse only what is over them."""
    with pipeline(db_url, tmp_path) as p:
        video = _video(conn, create_user(conn), "{user}/clip.mp4", "pending")
        body = {"videoRecordingId": video}
        headers = {"Content-Type": "application/json"}
        assert _hook(p, data=_padded(body, LIMIT), headers=headers).status_code == 202
        assert _chunked(p, _padded(body, LIMIT)).status_code == 202
        assert len(p.bus.published) == 2


def test_case_counts():
    assert len(HOSTILE_PATHS) >= 15
    assert len(SECRET_CHANGES) + len(BODIES) + len(CONTENT_TYPES) >= 20
