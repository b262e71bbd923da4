"""The `Storage` port on Supabase Storage, with the service-role key.

Uploads, deletes and listings go through Supabase's Storage SDK, storage3 (what the
`supabase` client's `.storage` is), built directly: the full `supabase` client would also
import its auth, realtime and PostgREST clients, 115 ms more of every cold start
(bench/README.md, "Cold starts").
Reads do not: storage3's `download` returns the whole object as bytes, so a video is read with
streamed HTTP GETs of `/storage/v1/object/<bucket>/<path>` (`Authorization: Bearer <key>` and
`apikey: <key>`), exposed as a seekable, read-only file object (`HttpRangeReader`,
shared/adapters/http_range.py, under an `io.BufferedReader`), so memory stays flat whatever
the object's size.

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
from storage3 import SyncStorageClient
from storage3.exceptions import StorageApiError

from shared.adapters.http_range import HttpRangeReader
from shared.errors import (
    ConfigurationError,
    CuecastError,
    ObjectNotFound,
    PermanentError,
    TransientError,
    UnsafePath,
)
from shared.paths import validate_object_path

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LIST_PAGE = 1000
_REMOVE_BATCH = 1000


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


def response_error(http_status: int, body: bytes, what: str) -> CuecastError:
    """The cuecast error for an error response: Supabase's body status wins."""
    status, error = _body_status(http_status, body)
    return status_error(status, f"{what}{f' ({error})' if error else ''}")


def _body_status(http_status: int, body: bytes) -> tuple[int, str]:
    """Supabase's own status and error name from an error body (HTTP status when absent)."""
    try:
        parsed = json.loads(body)
        status = int(parsed.get("statusCode", http_status))
        error = str(parsed.get("error", ""))[:100]
    except (ValueError, TypeError, AttributeError):
        return http_status, ""
    return status, error


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
        if not re.match(r"^https?://[^/\s]+", self._url):
            raise ConfigurationError(f"SUPABASE_URL is not an http(s) URL: {self._url!r}")
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)
        headers = {"apiKey": service_role_key, "Authorization": f"Bearer {service_role_key}"}
        self._storage = SyncStorageClient(
            f"{self._url}/storage/v1/", headers, http_client=self._http
        )

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
            error=response_error,
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
