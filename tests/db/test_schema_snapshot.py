"""Both end states equal their committed snapshots (regenerate: make snapshot), and they
differ only where docs/migrations.md says so."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from tests.schema_snapshot import ADOPTED_SNAPSHOT, SNAPSHOT, differences, snapshot

DOCS = Path(__file__).resolve().parents[2] / "docs" / "migrations.md"


def _assert_matches(current: str, committed: Path) -> None:
    expected = committed.read_text()
    diff = "\n".join(
        difflib.unified_diff(
            expected.splitlines(), current.splitlines(), "committed", "migrated", lineterm=""
        )
    )
    assert current == expected, (
        f"schema differs from tests/{committed.name}; if the change is deliberate run"
        f" `make snapshot` and commit the file:\n{diff}"
    )


def test_schema_matches_the_committed_snapshot(db_url):
    _assert_matches(snapshot(db_url), SNAPSHOT)


def test_the_adopted_schema_matches_its_committed_snapshot(adopted_db):
    _assert_matches(snapshot(adopted_db), ADOPTED_SNAPSHOT)


def test_the_end_states_differ_only_where_the_docs_say():
    section = DOCS.read_text().split("## Where the two end states differ", 1)[1]
    section = section.split("\n## ", 1)[0]
    first_cells = [row.split("|")[1] for row in section.splitlines() if row.startswith("| ")]
    documented = {name for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}
    found = set(differences(SNAPSHOT.read_text(), ADOPTED_SNAPSHOT.read_text()))
    assert found - documented == set(), "differences docs/migrations.md does not list"
    assert documented - found == set(), "listed in docs/migrations.md but no longer different"
