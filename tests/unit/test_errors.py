"""The one classifier of retry-or-not, on every kind of error a stage can meet."""

from __future__ import annotations

import psycopg
import pytest

from shared.errors import InvalidMessage, NotDue, PermanentError, TransientError, is_transient

CASES = [
    (TransientError("503"), True),
    (NotDue("later"), True),
    (psycopg.errors.QueryCanceled("statement timeout"), True),
    (psycopg.OperationalError("server closed the connection"), True),
    (psycopg.InterfaceError("connection is closed"), True),
    (TimeoutError(), True),
    (ConnectionResetError(), True),
    (RuntimeError("nobody classified this"), True),  # unknown: retried, bounded by attempts
    (Exception("bare"), True),
    (PermanentError("404"), False),
    (InvalidMessage("bad json"), False),
    (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), False),
    (psycopg.errors.NumericValueOutOfRange("out of range"), False),
    (psycopg.errors.UniqueViolation("duplicate"), False),
    (psycopg.errors.CheckViolation("check"), False),
    (ValueError("bad value"), False),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), False),
    (TypeError("wrong type"), False),
    (KeyError("missing"), False),
]


@pytest.mark.parametrize(("error", "transient"), CASES, ids=[repr(e)[:60] for e, _ in CASES])
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
