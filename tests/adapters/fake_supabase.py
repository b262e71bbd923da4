"""A local Supabase Storage API (the object endpoints `SupabaseStorage` uses); see servers.py."""

from __future__ import annotations

import json
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.adapters.fake_http import HttpFake, Reply, generated_bytes


@dataclass
class StoredObject:
    content_type: str
    data: bytes = b""
    generated_size: int | None = None  # served from `generated_bytes`, never held

    @property
    def size(self) -> int:
        return len(self.data) if self.generated_size is None else self.generated_size

    def chunks(self, start: int, end: int) -> Any:
        """The bytes [start, end) in chunks of at most 1 MiB."""
        for offset in range(start, end, 1 << 20):
            length = min(1 << 20, end - offset)
            if self.generated_size is None:
                yield self.data[offset : offset + length]
            else:
                yield generated_bytes(offset, length)


def _storage_error(status: int, error: str, message: str) -> Reply:
    return status, {"statusCode": str(status), "error": error, "message": message}


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[dict[str, str], bytes]]:
    """`multipart/form-data` → {field name: (part headers, data)}."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields: dict[str, tuple[dict[str, str], bytes]] = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in head.decode().split("\r\n"))
        )
        name = headers["content-disposition"].split('name="', 1)[1].split('"', 1)[0]
        fields[name] = (headers, data.removesuffix(b"\r\n"))
    return fields


class FakeSupabaseStorage(HttpFake):
    """Supabase Storage's object endpoints under `/storage/v1`, checking the service role.

    `not_found_status` is the HTTP status of a missing object: 404, or 400 as older Storage
    versions answer (with `"statusCode": "404"` in the body either way).
    """

    def __init__(self, service_key: str, *, not_found_status: int = 404) -> None:
        super().__init__()
        self.service_key = service_key
        self.not_found_status = not_found_status
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.fail_next: deque[Reply] = deque()

    def put(self, bucket: str, path: str, data: bytes, content_type: str = "video/mp4") -> None:
        self.objects[(bucket, path)] = StoredObject(content_type, data)

    def put_generated(self, bucket: str, path: str, size: int) -> None:
        self.objects[(bucket, path)] = StoredObject("video/mp4", generated_size=size)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = self.record(request)
        path = urlsplit(request.path).path
        auth_ok = request.headers.get("authorization") == f"Bearer {self.service_key}"
        if not auth_ok or request.headers.get("apikey") != self.service_key:
            self.send(request, *_storage_error(403, "Unauthorized", "invalid signature"))
        elif self.fail_next:
            self.send(request, *self.fail_next.popleft())
        elif path.startswith("/storage/v1/object/list/"):
            self._list(request, unquote(path.removeprefix("/storage/v1/object/list/")), body)
        elif path.startswith("/storage/v1/object/"):
            bucket, _, key = path.removeprefix("/storage/v1/object/").partition("/")
            self._object(request, unquote(bucket), unquote(key), body)
        else:
            self.send(request, *_storage_error(404, "not_found", "no route"))

    def _object(self, request: BaseHTTPRequestHandler, bucket: str, key: str, body: bytes) -> None:
        if request.command == "DELETE" and not key:
            removed = []
            for prefix in json.loads(body)["prefixes"]:
                if self.objects.pop((bucket, prefix), None) is not None:
                    removed.append({"name": prefix, "bucket_id": bucket})
            self.send(request, 200, removed)
        elif request.command in ("POST", "PUT"):
            self._upload(request, bucket, key, body)
        elif (bucket, key) not in self.objects:
            payload = _storage_error(404, "not_found", "Object not found")[1]
            self.send(request, self.not_found_status, payload)
        else:
            self._download(request, self.objects[(bucket, key)])

    def _upload(self, request: BaseHTTPRequestHandler, bucket: str, key: str, body: bytes) -> None:
        exists = (bucket, key) in self.objects
        upsert = request.headers.get("x-upsert") == "true"
        if request.command == "POST" and exists and not upsert:
            self.send(request, 400, _storage_error(409, "Duplicate", "already exists")[1])
            return
        fields = parse_multipart(request.headers["Content-Type"], body)
        headers, data = fields["file"]
        self.objects[(bucket, key)] = StoredObject(headers["content-type"], data)
        self.send(request, 200, {"Key": f"{bucket}/{key}", "Id": str(uuid.uuid4())})

    def _download(self, request: BaseHTTPRequestHandler, obj: StoredObject) -> None:
        start, end = 0, obj.size
        status = 200
        ranged = request.headers.get("Range", "")
        if ranged.startswith("bytes="):
            first, _, last = ranged.removeprefix("bytes=").partition("-")
            start = int(first)
            end = min(obj.size, int(last) + 1) if last else obj.size
            if start >= obj.size:
                request.send_response(416)
                request.send_header("Content-Range", f"bytes */{obj.size}")
                request.send_header("Content-Length", "0")
                request.end_headers()
                return
            status = 206
        request.send_response(status)
        request.send_header("Content-Type", obj.content_type)
        request.send_header("Content-Length", str(end - start))
        request.send_header("Accept-Ranges", "bytes")
        if status == 206:
            request.send_header("Content-Range", f"bytes {start}-{end - 1}/{obj.size}")
        request.end_headers()
        if request.command == "GET":
            for chunk in obj.chunks(start, end):
                request.wfile.write(chunk)

    def _list(self, request: BaseHTTPRequestHandler, bucket: str, body: bytes) -> None:
        options = json.loads(body)
        folder = options.get("prefix", "").strip("/")
        lead = f"{folder}/" if folder else ""
        files: dict[str, StoredObject] = {}
        folders: set[str] = set()
        for (obj_bucket, key), obj in self.objects.items():
            if obj_bucket == bucket and key.startswith(lead):
                name, slash, _ = key.removeprefix(lead).partition("/")
                if slash:
                    folders.add(name)
                else:
                    files[name] = obj
        entries = [{"name": name, "id": None, "metadata": None} for name in folders] + [
            {
                "name": name,
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, lead + name)),
                "metadata": {"size": obj.size, "mimetype": obj.content_type},
            }
            for name, obj in files.items()
        ]
        entries.sort(key=lambda entry: str(entry["name"]))
        offset, limit = int(options.get("offset", 0)), int(options.get("limit", 100))
        self.send(request, 200, entries[offset : offset + limit])
