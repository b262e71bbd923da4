"""Local stand-ins for Google and Supabase that speak each service's wire protocol.

Each production adapter is driven through its real SDK and transport at one of these, on
127.0.0.1 with an OS-chosen port. Every server is a context manager (`with FakeX() as fake:`)
and records what it received, so tests assert on the wire, not on the adapter's own calls.

- `FakeGemini()` → `.url` for `make_gemini_client(base_url=...)`. Files API resumable upload
  (`POST /upload/<v>/files`, then chunk POSTs to the returned upload URL), `GET`/`DELETE
  /<v>/files/<id>`, `POST /<v>/models/<model>:generateContent`. Queue answers with
  `.replies.append(json_reply(obj) | text_reply(s) | error_reply(code, status))`; set
  `.processing_polls` (GETs answered PROCESSING before ACTIVE), `.final_state` or
  `.delete_status`; `.files` (uploaded bytes and chunk sizes) and `.deleted` record the rest.
- `FakeTextToSpeech()` → `.endpoint` for `make_tts_client(endpoint)`. `POST
  /v1/text:synthesize` answers `{"audioContent": base64(.audio)}` (a real MP3 from
  `make_mp3`) unless `.replies` holds `(status, body)`.
- `FakeSupabaseStorage(service_key)` → `.url` for `SupabaseStorage(url, key)`. Object upload
  (multipart POST/PUT, `x-upsert`), GET with Range, HEAD, DELETE (`prefixes`), POST
  `object/list/<bucket>`; `.put(bucket, path, data)`, `.put_generated(bucket, path, size)` (a
  body made on the fly: byte i is `i % 251`, see `generated_bytes`), `.fail_next`.
- `FakePubSub()` → `.host` for `PUBSUB_EMULATOR_HOST`; a gRPC server registering
  `google.pubsub.v1.Publisher/Publish`; `.published` holds (topic, data, attributes);
  `.fail_with = grpc.StatusCode.X` makes every call fail.

Every HTTP fake (base `HttpFake` in fake_http.py; the Storage fake lives in fake_supabase.py,
both re-exported here) keeps `.requests` as (method, raw path, lower-cased headers) and
`.errors`: exceptions raised inside the fake itself, answered as HTTP 500 (assert it is empty
when a test needs the fake to have been driven correctly).
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
import uuid
from collections import deque
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av
import grpc
import numpy as np
from google.pubsub_v1.types import PublishRequest, PublishResponse

from tests.adapters.fake_http import HttpFake, Reply, generated_bytes
from tests.adapters.fake_supabase import FakeSupabaseStorage, StoredObject

__all__ = [
    "FakeGemini",
    "FakePubSub",
    "FakeSupabaseStorage",
    "FakeTextToSpeech",
    "HttpFake",
    "Reply",
    "StoredObject",
    "error_reply",
    "generated_bytes",
    "json_reply",
    "make_mp3",
    "text_reply",
]


def make_mp3(seconds: float = 1.5, rate: int = 24000) -> bytes:
    """A real MP3 (a 440 Hz tone) encoded with PyAV's libmp3lame."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        sample_format = stream.codec_context.format.name
        total = int(seconds * rate)
        wave = 0.3 * np.sin(2 * math.pi * 440 * np.arange(total) / rate)
        pcm: np.ndarray[Any, Any] = wave.astype(np.float32)  # flt/fltp
        if sample_format.startswith("s32"):
            pcm = (wave * (2**31 - 1)).astype(np.int32)
        elif sample_format.startswith("s16"):
            pcm = (wave * (2**15 - 1)).astype(np.int16)
        for start in range(0, total, 1152):
            frame = av.AudioFrame.from_ndarray(
                pcm[start : start + 1152].reshape(1, -1), format=sample_format, layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def json_reply(obj: Any) -> Reply:
    """A generateContent answer whose text is `obj` as JSON."""
    return text_reply(json.dumps(obj))


def text_reply(text: str) -> Reply:
    candidate = {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
    return 200, {"candidates": [candidate], "modelVersion": "fake"}


def error_reply(code: int, status: str) -> Reply:
    return code, {"error": {"code": code, "message": f"injected {status}", "status": status}}


@dataclass
class GeminiFile:
    name: str
    mime_type: str
    declared_size: int
    data: bytearray = field(default_factory=bytearray)
    chunks: list[int] = field(default_factory=list)
    polls: int = 0
    finalized: bool = False

    def as_json(self, state: str, base_url: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "uri": f"{base_url}/v1beta/{self.name}",
            "state": state,
            "videoMetadata": {"videoDuration": "12.5s"},
            **({"error": {"code": 3, "message": "bad video"}} if state == "FAILED" else {}),
        }


class FakeGemini(HttpFake):
    """The Gemini Developer API's Files API and generateContent, for the requests we make."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, GeminiFile] = {}
        self.deleted: list[str] = []
        self.generate_requests: list[dict[str, Any]] = []
        self.replies: deque[Reply] = deque()
        self.processing_polls = 0
        self.final_state = "ACTIVE"
        self.delete_status = 200  # another status makes every file DELETE fail with it

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = self.record(request)
        url = urlsplit(request.path)
        parts = url.path.strip("/").split("/")
        upload_id = parse_qs(url.query).get("upload_id")  # the upload URL is the credential
        if request.headers.get("x-goog-api-key") is None and not upload_id:
            self.send(request, 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        elif parts[:1] == ["upload"] and request.command == "POST":
            self._upload(request, body, parse_qs(url.query))
        elif len(parts) == 3 and parts[1] == "files":
            self._file(request, f"files/{parts[2]}")
        elif len(parts) == 3 and parts[1] == "models" and parts[2].endswith(":generateContent"):
            with self.lock:
                self.generate_requests.append(json.loads(body))
                reply = self.replies.popleft() if self.replies else error_reply(500, "INTERNAL")
            self.send(request, *reply)
        else:
            self.send(request, 404, {"error": {"code": 404, "status": "NOT_FOUND"}})

    def _upload(self, request: BaseHTTPRequestHandler, body: bytes, query: dict[str, Any]) -> None:
        command = request.headers.get("X-Goog-Upload-Command", "")
        if command == "start":
            meta = json.loads(body).get("file", {})
            upload_id = uuid.uuid4().hex[:12]
            declared = int(request.headers["X-Goog-Upload-Header-Content-Length"])
            mime = request.headers["X-Goog-Upload-Header-Content-Type"]
            with self.lock:
                self.files[upload_id] = GeminiFile(f"files/{upload_id}", mime, declared)
            version = urlsplit(request.path).path.split("/")[2]
            location = f"{self.url}/upload/{version}/files?upload_id={upload_id}"
            if meta.get("mimeType", meta.get("mime_type")) != mime:  # proto JSON: either name
                raise ValueError("the file's mime type differs from the upload header")
            self.send(request, 200, {}, {"x-goog-upload-url": location})
            return
        file = self.files[query["upload_id"][0]]
        if int(request.headers["X-Goog-Upload-Offset"]) != len(file.data):
            self.send(request, 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}})
            return
        file.data += body
        file.chunks.append(len(body))
        if "finalize" not in command:
            self.send(request, 200, None, {"x-goog-upload-status": "active"})
            return
        file.finalized = True
        state = (
            "ACTIVE"
            if self.processing_polls == 0 and self.final_state == "ACTIVE"
            else ("PROCESSING")
        )
        reply = {"file": file.as_json(state, self.url)}
        self.send(request, 200, reply, {"x-goog-upload-status": "final"})

    def _file(self, request: BaseHTTPRequestHandler, name: str) -> None:
        file = self.files.get(name.removeprefix("files/"))
        if file is None or name in self.deleted:
            self.send(request, 404, {"error": {"code": 404, "status": "NOT_FOUND"}})
        elif request.command == "DELETE" and self.delete_status != 200:
            self.send(request, *error_reply(self.delete_status, "INTERNAL"))
        elif request.command == "DELETE":
            with self.lock:
                self.deleted.append(name)
            self.send(request, 200, {})
        else:
            file.polls += 1
            done = file.polls > self.processing_polls
            state = self.final_state if done else "PROCESSING"
            self.send(request, 200, file.as_json(state, self.url))


class FakeTextToSpeech(HttpFake):
    """Cloud Text-to-Speech's REST `text:synthesize`."""

    def __init__(self, audio: bytes | None = None) -> None:
        super().__init__()
        self.endpoint = self.url
        self.audio = make_mp3() if audio is None else audio
        self.bodies: list[dict[str, Any]] = []
        self.replies: deque[Reply] = deque()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = self.record(request)
        if request.command != "POST" or urlsplit(request.path).path != "/v1/text:synthesize":
            self.send(request, 404, {"error": {"code": 404, "status": "NOT_FOUND"}})
            return
        with self.lock:
            self.bodies.append(json.loads(body))
            reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = (200, {"audioContent": base64.b64encode(self.audio).decode()})
        self.send(request, *reply)


class FakePubSub:
    """An in-process gRPC server with `google.pubsub.v1.Publisher/Publish`."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []
        self.calls = 0
        self.fail_with: grpc.StatusCode | None = None
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.unary_unary_rpc_method_handler(
            self._publish,
            request_deserializer=PublishRequest.deserialize,
            response_serializer=PublishResponse.serialize,
        )
        self._server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "google.pubsub.v1.Publisher", {"Publish": handler}
                ),
            )
        )
        self.host = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"

    def __enter__(self) -> FakePubSub:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)

    def _publish(self, request: PublishRequest, context: grpc.ServicerContext) -> PublishResponse:
        with self._lock:
            self.calls += 1
            if self.fail_with is not None:
                context.abort(self.fail_with, "injected failure")
            start = len(self.published)
            for message in request.messages:
                self.published.append((request.topic, message.data, dict(message.attributes)))
        ids = [str(start + n) for n in range(len(request.messages))]
        return PublishResponse(message_ids=ids)
