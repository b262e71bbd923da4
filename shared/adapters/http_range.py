"""A seekable, read-only file object over one HTTP object, fetched with Range requests, so
that a reader (the Gemini SDK's upload seeks to learn the size) streams a video that is never
held whole in memory: one `Range: bytes=<pos>-` request streams sequential reads, a seek
elsewhere drops it and the next read opens another at the new position, and at most one
`chunk_size` chunk is held. The caller maps an error response to its error
(SupabaseStorage does)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from shared.errors import CuecastError, TransientError

_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")
_MAX_ERROR_BODY = 64 * 1024


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
        error: Callable[[int, bytes, str], CuecastError],
        chunk_size: int = 1 << 20,
    ) -> None:
        super().__init__()
        self._error = error
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
        raise self._error(response.status_code, body, self._what)

    def _drop_stream(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = None
        self._chunks = None
        self._stream_pos += len(self._buffer)
        self._buffer = memoryview(b"")
