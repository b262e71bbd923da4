"""The `Storage` port on Supabase Storage, with the service-role key.

Uploads, deletes and listings go through the `supabase` client's storage API (storage3).
Reads do not: storage3's `download` returns the whole object as bytes, so a video is read with
streamed HTTP GETs of `/storage/v1/object/<bucket>/<path>` (`Authorization: Bearer <key>` and
`apikey: <key>`), exposed as a seekable, read-only file object (`HttpRangeReader` under an
`io.BufferedReader`): one `Range: bytes=<pos>-` request streams sequential reads, a seek
elsewhere drops it and the next read opens another at the new position, and at most one
`read_ahead`-sized chunk is held, so memory stays flat whatever the object's size.

Every bucket and path is validated (shared.paths) before any request.

Error mapping (Supabase Storage reports errors as `{"statusCode", "error", "message"}`, often
with HTTP 400 and the real status in `statusCode`; the body's status wins when present):
- 404 → `ObjectNotFound` (a `PermanentError`);
- 408, 429, every 5xx, and httpx transport errors (timeouts, refused or dropped connections,
  a body that ends early) → `TransientError`;
- every other 4xx (bad path, unauthorised key, duplicate without upsert…) → `PermanentError`.
The service-role key is sent only in headers and is scrubbed from every error text this module
writes; it never reaches a log line.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
from storage3.exceptions import StorageApiError
from supabase import ClientOptions, SupabaseException, create_client

from shared.adapters.local_storage import ObjectNotFound
from shared.errors import ConfigurationError, CuecastError, PermanentError, TransientError
from shared.paths import UnsafePath, validate_object_path

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")
_LIST_PAGE = 1000
_REMOVE_BATCH = 1000
_MAX_ERROR_BODY = 64 * 1024


def _check_bucket(bucket: str) -> str:
    if not isinstance(bucket, str) or not _BUCKET.match(bucket):
        raise UnsafePath("bucket name must be lowercase letters, digits, '-' or '_'")
    return bucket


def status_error(status: int, what: str) -> CuecastError:
    """The cuecast error for an HTTP status (after Supabase's body status is applied)."""
    if status == 404:
        return ObjectNotFound(f"{what}: not found")
    if status in (408, 429) or status >= 500:
        return TransientError(f"{what}: HTTP {status}")
    return PermanentError(f"{what}: HTTP {status}")


def _body_status(http_status: int, body: bytes) -> tuple[int, str]:
    """Supabase's own status and error name from an error body (HTTP status when absent)."""
    try:
        parsed = json.loads(body)
        status = int(parsed.get("statusCode", http_status))
        error = str(parsed.get("error", ""))[:100]
    except (ValueError, TypeError, AttributeError):
        return http_status, ""
    return status, error


class HttpRangeReader(io.RawIOBase):
    """A read-only, seekable view of one HTTP object, fetched with Range requests.

    Created by `open()` (which makes the first request, so a missing object fails at once);
    wrap it in `io.BufferedReader` for `BinaryIO`. Not thread-safe, like any file object.
    """

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        headers: dict[str, str],
        *,
        what: str,
        chunk_size: int = 1 << 20,
    ) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._headers = headers
        self._what = what
        self._chunk_size = chunk_size
        self._size = -1
        self._pos = 0
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._buffer = memoryview(b"")
        self._stream_pos = 0  # offset of the first byte in _buffer

    @property
    def size(self) -> int:
        return self._size

    def open(self) -> HttpRangeReader:
        self._open_at(0)
        return self

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence: {whence}")
        target = base + offset
        if target < 0:
            raise OSError(22, "negative seek position")
        self._pos = target
        return target

    def readinto(self, buffer: Any) -> int:
        self._check_open()
        view = memoryview(buffer).cast("B")
        if not view.nbytes or self._pos >= self._size:
            return 0
        if not (self._stream_pos <= self._pos < self._stream_pos + len(self._buffer)):
            self._fill()
        start = self._pos - self._stream_pos
        count = min(view.nbytes, len(self._buffer) - start)
        view[:count] = self._buffer[start : start + count]
        self._pos += count
        return count

    def close(self) -> None:
        self._drop_stream()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _fill(self) -> None:
        """Make `_buffer` hold the chunk containing `_pos`, from the open stream or a new one."""
        buffered_end = self._stream_pos + len(self._buffer)
        near = buffered_end <= self._pos < buffered_end + self._chunk_size  # skip ahead, no reopen
        if self._chunks is None or not near:
            self._open_at(self._pos)
        while True:
            chunk = self._next_chunk()
            self._stream_pos += len(self._buffer)
            self._buffer = memoryview(chunk)
            if self._pos < self._stream_pos + len(chunk):
                return

    def _next_chunk(self) -> bytes:
        assert self._chunks is not None
        try:
            chunk = next(self._chunks, b"")
        except httpx.TransportError as exc:
            self._drop_stream()
            raise TransientError(f"{self._what}: reading failed ({type(exc).__name__})") from exc
        if not chunk:
            self._drop_stream()
            raise TransientError(f"{self._what}: the body ended before byte {self._size}")
        return chunk

    def _open_at(self, offset: int) -> None:
        self._drop_stream()
        # identity: byte offsets must be those of the object, not of a compressed body
        headers = {**self._headers, "Range": f"bytes={offset}-", "Accept-Encoding": "identity"}
        try:
            request = self._client.build_request("GET", self._url, headers=headers)
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise TransientError(f"{self._what}: request failed ({type(exc).__name__})") from exc
        try:
            start = self._accept(response, offset)
        except BaseException:
            response.close()
            raise
        self._response = response
        self._chunks = response.iter_bytes(self._chunk_size)
        self._stream_pos = start
        self._buffer = memoryview(b"")

    def _accept(self, response: httpx.Response, offset: int) -> int:
        """Check the response and learn the size; the offset its body starts at."""
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if not match or match.group(1) is None or int(match.group(1)) != offset:
                raise TransientError(f"{self._what}: unexpected Content-Range")
            self._size = int(match.group(3))
            return offset
        if response.status_code == 200:  # the server ignored Range: the body starts at 0
            self._size = int(response.headers.get("content-length", "-1"))
            if self._size < 0:
                raise TransientError(f"{self._what}: no Content-Length")
            return 0
        if response.status_code == 416:  # at or past the end (an empty object at 0)
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            self._size = int(match.group(3)) if match else offset
            return offset
        body = b""
        for part in response.iter_bytes():
            body += part
            if len(body) > _MAX_ERROR_BODY:
                break
        status, error = _body_status(response.status_code, body)
        raise status_error(status, f"{self._what}{f' ({error})' if error else ''}")

    def _drop_stream(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = None
        self._chunks = None
        self._stream_pos += len(self._buffer)
        self._buffer = memoryview(b"")


class SupabaseStorage:
    """The `Storage` port on a Supabase project (service role: bypasses RLS, server side only)."""

    def __init__(
        self,
        url: str,
        service_role_key: str,
        *,
        timeout: float = 30.0,
        read_ahead: int = 1 << 20,
    ) -> None:
        if not url or not service_role_key:
            raise ConfigurationError("missing settings: SUPABASE_SERVICE_ROLE_KEY, SUPABASE_URL")
        self._url = url.rstrip("/")
        self._key = service_role_key
        self._read_ahead = read_ahead
        # One connection pool for storage3 and the streamed reads (and no deprecated
        # storage3 `timeout` argument: the timeout lives on the httpx client).
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)
        try:
            client = create_client(
                self._url, service_role_key, options=ClientOptions(httpx_client=self._http)
            )
        except SupabaseException as exc:
            self._http.close()
            raise ConfigurationError(f"SUPABASE_URL is not usable: {exc}") from exc
        self._storage = client.storage

    def _error(self, exc: Exception, what: str) -> CuecastError:
        if isinstance(exc, StorageApiError):
            try:
                status = int(exc.status)
            except (TypeError, ValueError):
                status = 500
            return status_error(status, f"{what} ({str(exc.code)[:100]})")
        if isinstance(exc, httpx.TransportError):
            return TransientError(f"{what}: request failed ({type(exc).__name__})")
        return TransientError(f"{what}: {self._scrub(f'{type(exc).__name__}: {exc}')}")

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    def open_read(self, bucket: str, path: str) -> AbstractContextManager[BinaryIO]:
        _check_bucket(bucket)
        validate_object_path(path)
        reader = HttpRangeReader(
            self._http,
            f"{self._url}/storage/v1/object/{bucket}/{quote(path, safe='/')}",
            {"Authorization": f"Bearer {self._key}", "apikey": self._key},
            what=f"storage read {bucket}/{path}",
            chunk_size=self._read_ahead,
        )
        reader.open()
        return io.BufferedReader(reader, buffer_size=self._read_ahead)

    def upload(self, bucket: str, path: str, data: bytes, content_type: str) -> None:
        api = self._storage.from_(_check_bucket(bucket))
        validate_object_path(path)
        try:
            api.upload(
                path,
                data,
                file_options={"content-type": content_type, "upsert": "true"},
            )
        except (StorageApiError, httpx.HTTPError) as exc:
            raise self._error(exc, f"storage upload {bucket}/{path}") from exc

    def delete(self, bucket: str, paths: Sequence[str]) -> None:
        api = self._storage.from_(_check_bucket(bucket))
        checked = [validate_object_path(path) for path in paths]
        for start in range(0, len(checked), _REMOVE_BATCH):
            try:
                api.remove(checked[start : start + _REMOVE_BATCH])
            except (StorageApiError, httpx.HTTPError) as exc:
                raise self._error(exc, f"storage delete in {bucket}") from exc

    def list(self, bucket: str, prefix: str) -> list[str]:
        """Every object under the folder `prefix` ("" for the whole bucket), recursively."""
        api = self._storage.from_(_check_bucket(bucket))
        folder = prefix.rstrip("/")  # a leading "/" is refused like any absolute path
        if folder:
            validate_object_path(folder)
        found: list[str] = []
        folders = [folder]
        while folders:
            current = folders.pop()
            for entry in self._list_folder(api, bucket, current):
                full = f"{current}/{entry['name']}" if current else str(entry["name"])
                (found if entry.get("id") is not None else folders).append(full)
        return sorted(found)

    def _list_folder(self, api: Any, bucket: str, folder: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            try:
                page: list[dict[str, Any]] = api.list(
                    folder,
                    {
                        "limit": _LIST_PAGE,
                        "offset": offset,
                        "sortBy": {"column": "name", "order": "asc"},
                    },
                )
            except (StorageApiError, httpx.HTTPError) as exc:
                raise self._error(exc, f"storage list {bucket}/{folder}") from exc
            yield from page
            if len(page) < _LIST_PAGE:
                return
            offset += len(page)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._http.close()
