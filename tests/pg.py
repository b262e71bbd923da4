"""Where the tests' Postgres is: a configured URL, the local server, or the embedded one —
the same order as a local run (shared/local/database.py), whose helpers this reuses."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from shared.local.database import LOCAL_SERVER_URL, answers, start_embedded, with_database

__all__ = ["admin_url", "with_database"]


def admin_url() -> str:
    """A superuser URL on a server the tests may create databases on."""
    configured = os.environ.get("CUECAST_TEST_ADMIN_URL")
    if configured:
        return configured
    if answers(LOCAL_SERVER_URL):
        return LOCAL_SERVER_URL
    default = Path(tempfile.gettempdir()) / "cuecast-pgtest"
    url, _stop = start_embedded(Path(os.environ.get("CUECAST_PGDATA", default)))
    return url  # stopped at exit (start_embedded registers it)
