"""The migrated schema equals the committed canonical snapshot (regenerate: make snapshot)."""

from __future__ import annotations

import difflib

from tests.schema_snapshot import SNAPSHOT, snapshot


def test_schema_matches_the_committed_snapshot(db_url):
    current = snapshot(db_url)
    expected = SNAPSHOT.read_text()
    diff = "\n".join(
        difflib.unified_diff(
            expected.splitlines(), current.splitlines(), "committed", "migrated", lineterm=""
        )
    )
    assert current == expected, (
        "schema differs from tests/schema.snapshot; if the change is deliberate run"
        f" `make snapshot` and commit the file:\n{diff}"
    )
