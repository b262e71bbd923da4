"""Errors as values the caller can act on: permanent vs transient decides ack vs retry.

`classify` is the one place that maps an exception to retry-or-not; every stage and entry
point goes through it.
"""

from __future__ import annotations

import psycopg


class CuecastError(Exception):
    """Base of cuecast's own errors."""


class PermanentError(CuecastError):
    """Retrying cannot help: bad input, a missing object, a 4xx. Fail the job at once."""


class TransientError(CuecastError):
    """Worth retrying later: timeouts, 429, 5xx, a lost database connection."""


class InvalidMessage(PermanentError):
    """A Pub/Sub message or HTTP body that cannot be decoded into a command."""


class NotDue(TransientError):
    """The job is queued but its due time has not come: ask Pub/Sub to redeliver later."""


class ConfigurationError(CuecastError):
    """Settings are missing or contradictory; raised at start, before any work."""


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


def describe(exc: BaseException, limit: int = 2000) -> str:
    """A one-line, bounded error text for `last_error` columns and logs."""
    text = f"{type(exc).__name__}: {exc}".replace("\x00", "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
