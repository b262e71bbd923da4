"""Every error cuecast raises, and what a failure means: the one place that decides it.

A failure is permanent (retrying cannot help: fail the job at once, acknowledge the
message) or transient (worth another attempt: the job goes back to queued after a backoff
and the message is redelivered) — `disposition` says which for a job, given its attempts,
and `is_transient` for an exception alone. Everything else only raises these.
"""

from __future__ import annotations

from enum import StrEnum

import psycopg


class CuecastError(Exception):
    """Base of cuecast's own errors."""


class PermanentError(CuecastError):
    """Retrying cannot help: bad input, a missing object, a 4xx. Fail the job at once."""


class TransientError(CuecastError):
    """Worth retrying later: timeouts, 429, 5xx, a lost database connection."""


class ConfigurationError(CuecastError):
    """Settings are missing or contradictory; raised at start, before any work."""


class MigrationError(CuecastError):
    """A migration could not be applied, or the applied history does not match the files."""


class LockContention(MigrationError):
    """A migration lost a lock to the app (a deadlock, or the lock timeout) and rolled back:
    running it again is safe."""


# Permanent failures, by what is wrong.


class InvalidMessage(PermanentError):
    """A Pub/Sub message or HTTP body that cannot be decoded into a command."""


class UnknownJob(PermanentError):
    """The message names a job that does not exist."""


class NotFound(PermanentError):
    """A start request names a recording or job that does not exist (HTTP 404)."""


class UnsafePath(PermanentError):
    """An object path that breaks the rules (traversal, absolute, URL, control characters…)."""


class ObjectNotFound(PermanentError):
    """The object does not exist in storage."""


class UndecodableVideo(PermanentError):
    """The video is empty, or has no audio or video that can be decoded."""


class BlankMessage(PermanentError):
    """The message has nothing to say once cleaned."""


class RejectedSsml(CuecastError):
    """Gemini's SSML failed a check, so the builder's is used; `code` is short (stored on
    rows), `detail` is for the notes. Never leaves the SSML writer."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


# Transient failures that are planned: Pub/Sub is asked to deliver again.


class NotDue(TransientError):
    """The job is queued but its due time has not come: ask Pub/Sub to redeliver later."""


class RetryLater(TransientError):
    """Raised out of a function so that Pub/Sub redelivers the message (the job's failure is
    recorded and it is queued again after its backoff)."""


class Disposition(StrEnum):
    """What becomes of a failed run."""

    RETRY = "retry"  # queued again after the backoff; the message is redelivered
    FAILED = "failed"  # the job fails with its error; the message is acknowledged
    STALE = "stale"  # the claim was superseded (re-queued or reclaimed): nothing recorded


def is_transient(exc: BaseException) -> bool:
    """True when a retry may succeed. Unknown errors count as transient (bounded by attempts)."""
    if isinstance(exc, PermanentError):
        return False
    transient = (
        TransientError,
        psycopg.errors.QueryCanceled,  # statement timeout
        psycopg.OperationalError,  # lost connection, server going away
        psycopg.InterfaceError,
        TimeoutError,
        ConnectionError,
    )
    if isinstance(exc, transient):
        return True
    permanent = (
        psycopg.errors.IntegrityError,
        psycopg.errors.DataError,  # also psycopg's own refusal of NUL in text
        ValueError,  # UnicodeError included
        TypeError,
        KeyError,
    )
    return not isinstance(exc, permanent)


def disposition(exc: BaseException, attempts: int, max_attempts: int) -> Disposition:
    """A job's failure: retried when transient with attempts left, failed otherwise."""
    if is_transient(exc) and attempts < max_attempts:
        return Disposition.RETRY
    return Disposition.FAILED


def describe(exc: BaseException, limit: int = 2000) -> str:
    """A one-line, bounded error text for `last_error` columns and logs."""
    text = f"{type(exc).__name__}: {exc}".replace("\x00", "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
