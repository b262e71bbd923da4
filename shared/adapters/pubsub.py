"""The `Publisher` port on google-cloud-pubsub.

One `PublisherClient` per instance, created on first use (Cloud Functions reuses it across
invocations). The SDK itself honours `PUBSUB_EMULATOR_HOST`: with it set, the client talks
plain gRPC to that host with anonymous credentials, which is how the tests reach an
in-process server.

Error mapping: every publish failure (an RPC error after the bounded retry, a future that does
not resolve within the timeout, a stopped client) raises `TransientError` naming the topic.
The caller logs it; when the publish follows a database commit, the reconciler republishes
the job's doorbell later, so nothing is lost. Encoding errors (a message that is not JSON
serialisable) are programming errors and propagate as `TypeError`/`ValueError` before
anything is sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud.pubsub_v1 import PublisherClient

from shared.errors import ConfigurationError, PermanentError, TransientError, describe

# The codes the SDK's own default publish retry treats as retryable.
_RETRYABLE = (
    api_exceptions.Aborted,
    api_exceptions.Cancelled,
    api_exceptions.DeadlineExceeded,
    api_exceptions.InternalServerError,
    api_exceptions.ResourceExhausted,
    api_exceptions.ServiceUnavailable,
    api_exceptions.Unknown,
)


def encode_message(message: Mapping[str, object]) -> bytes:
    """A message as Pub/Sub data: compact JSON, UTF-8."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class PubSubPublisher:
    """Publishes JSON messages; returns once Pub/Sub has accepted every one.

    `timeout_s` bounds the whole call: the SDK's retry of retryable RPC errors stops at that
    deadline, and every future is awaited against it.
    """

    def __init__(
        self,
        project: str,
        client: Any | None = None,
        *,
        timeout_s: float = 30.0,
    ) -> None:
        if not project:
            raise ConfigurationError("missing settings: GOOGLE_CLOUD_PROJECT")
        self._project = project
        self._client = client
        self._owns_client = client is None
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._retry = api_retry.Retry(
            predicate=api_retry.if_exception_type(*_RETRYABLE),
            initial=0.1,
            maximum=min(5.0, timeout_s),
            multiplier=2.0,
            timeout=timeout_s,
        )

    def _publisher(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = PublisherClient()
            return self._client

    def topic_path(self, topic: str) -> str:
        """`projects/<project>/topics/<topic>` for a topic name from settings."""
        if not topic or "/" in topic:
            raise PermanentError(f"not a topic name: {topic!r}")
        return f"projects/{self._project}/topics/{topic}"

    def publish(
        self,
        topic: str,
        messages: Sequence[Mapping[str, object]],
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        path = self.topic_path(topic)
        payloads = [encode_message(message) for message in messages]
        if not payloads:
            return
        attrs = dict(attributes or {})
        deadline = time.monotonic() + self._timeout_s
        try:
            client = self._publisher()
            pending = [
                client.publish(path, data, retry=self._retry, timeout=self._timeout_s, **attrs)
                for data in payloads
            ]
            for future in pending:
                future.result(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
        except Exception as exc:
            raise TransientError(f"publishing to topic {topic} failed: {describe(exc)}") from exc

    def close(self) -> None:
        """Flush and stop the client this instance created (a given client is the caller's)."""
        if not self._owns_client:
            return
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.stop()  # publishes what is batched, then refuses new messages
            client.transport.close()
