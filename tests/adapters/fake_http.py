"""The base of the local HTTP fakes: a threaded HTTP/1.1 server on 127.0.0.1 that records
every request, and the generated bodies used for large downloads."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any]  # (HTTP status, JSON body)

_PATTERN = bytes(i % 251 for i in range(251 + (1 << 20)))


def generated_bytes(offset: int, length: int) -> bytes:
    """Bytes [offset, offset+length) of a generated object (byte i is i % 251), ≤ 1 MiB."""
    start = offset % 251
    return _PATTERN[start : start + length]


class HttpFake:
    """A threaded HTTP/1.1 server on 127.0.0.1 whose handler calls `self.handle(request)`."""

    def __init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()  # small writes without Nagle's delay (headers, then body)
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _dispatch(self) -> None:
                try:
                    fake.handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                except Exception as exc:  # a fake's bug: answer 500 and keep it for the test
                    fake.errors.append(exc)
                    fake.send(self, 500, {"error": {"code": 500, "message": repr(exc)}})

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

        self.lock = threading.Lock()
        self.errors: list[Exception] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def record(self, request: BaseHTTPRequestHandler) -> bytes:
        """Log the request and return its body."""
        headers = {key.lower(): value for key, value in request.headers.items()}
        with self.lock:
            self.requests.append((request.command, request.path, headers))
        length = int(request.headers.get("Content-Length") or 0)
        return request.rfile.read(length) if length else b""

    @staticmethod
    def send(
        request: BaseHTTPRequestHandler,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)
