"""Structured logs: one JSON object per line in Cloud Logging's shape.

`severity` and `message` are Cloud Logging's fields; `logging.googleapis.com/trace` joins a
log line to its trace when a trace id is known. Extra context (job, feedback and stage ids)
comes from `bind()` or from the `extra` of a logging call.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO

_context: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "cuecast_log_context", default=None
)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_TRACE_FIELD = "logging.googleapis.com/trace"
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/|$)")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_CHATTY = ("httpx", "werkzeug", "urllib3")  # one INFO line per HTTP request


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        entry.update(_context.get() or {})
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        trace = entry.pop("trace", None)
        if trace:
            project = os.environ.get("GOOGLE_CLOUD_PROJECT")
            entry[_TRACE_FIELD] = f"projects/{project}/traces/{trace}" if project else trace
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class StdStream:
    """sys.stdout or sys.stderr, looked up at each write (tests and tools replace them)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        stream: IO[str] = getattr(sys, self.name)
        return stream.write(text)

    def flush(self) -> None:
        getattr(sys, self.name).flush()


STDOUT, STDERR = StdStream("stdout"), StdStream("stderr")


def configure(level: str | None = None, stream: IO[str] | StdStream | None = None) -> None:
    """Route the root logger to `stream` (stdout, where Cloud Logging reads) as JSON lines.
    Idempotent: a second call only moves the one JSON handler to the new stream."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h.formatter, JsonFormatter)), None)
    if handler is None:
        handler = logging.StreamHandler(stream or STDOUT)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    elif stream is not None and isinstance(handler, logging.StreamHandler):
        handler.setStream(stream)
    root.setLevel(level or os.environ.get("CUECAST_LOG_LEVEL", "INFO"))
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def bind(**fields: object) -> Iterator[None]:
    """Add fields (ids, stage, trace) to every log line written inside the block."""
    present = {k: v for k, v in fields.items() if v is not None}
    token = _context.set({**(_context.get() or {}), **present})
    try:
        yield
    finally:
        _context.reset(token)


def current_trace() -> str | None:
    """The trace id bound to this context, to pass on with the next doorbell."""
    trace = (_context.get() or {}).get("trace")
    return trace if isinstance(trace, str) else None


def trace_attributes() -> dict[str, str] | None:
    """Pub/Sub message attributes that carry the current trace to the next function."""
    trace = current_trace()
    return {"trace": trace} if trace else None


def trace_from_headers(headers: Mapping[str, str]) -> str | None:
    """The trace id of an HTTP request: Cloud Run's X-Cloud-Trace-Context, or W3C
    traceparent."""
    cloud = headers.get("X-Cloud-Trace-Context", "")
    if match := _CLOUD_TRACE.match(cloud):
        return match.group(1)
    if match := _TRACEPARENT.match(headers.get("traceparent", "")):
        return match.group(1)
    return None
