"""One history, two starting points: `cuecast migrate` and `supabase db push` agree on what
is pending, on an empty project and on the app's database with its CLI history.

The Supabase CLI cannot run here (no network), so its rule is ported: `FindPendingMigrations`
in supabase/cli pkg/migration/apply.go. Every remote version must exist locally (else
"Remote migration versions not found in local migrations directory"), a local version older
than the newest remote one that is not applied is refused unless `--include-all`, and what
is pending is the local list after the remote one. On the app's database the local folder is
the app's `supabase/migrations/`, holding its six files and cuecast's (docs/rollout.md).
"""

from __future__ import annotations

import psycopg
import pytest

from shared import migrate
from tests import preplan

CUECAST = [m.version for m in migrate.discover()]


class MissingLocal(Exception):
    """Remote migration versions not found in local migrations directory."""


class MissingRemote(Exception):
    """Found local migration files to be inserted before the last migration on remote."""


def find_pending(local: list[str], remote: list[str]) -> list[str]:
    """The CLI's FindPendingMigrations, line for line (both lists sorted)."""
    unapplied: list[str] = []
    missing: list[str] = []
    i = j = 0
    while i < len(remote) and j < len(local):
        if remote[i] == local[j]:
            i, j = i + 1, j + 1
        elif remote[i] < local[j]:
            missing.append(remote[i])
            i += 1
        else:
            unapplied.append(local[j])
            j += 1
    if j == len(local):
        missing.extend(remote[i:])
    if missing:
        raise MissingLocal(missing)
    if unapplied:
        raise MissingRemote(unapplied)
    return local[len(remote) :]


def _remote(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        if conn.execute(
            "select to_regclass('supabase_migrations.schema_migrations')"
        ).fetchone() == (None,):
            return []
        rows = conn.execute(
            "select version from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    return [v for (v,) in rows]


def test_the_port_behaves_as_the_cli():
    assert find_pending(["1", "2", "3"], ["1"]) == ["2", "3"]
    with pytest.raises(MissingLocal):
        find_pending(["2", "3"], ["1"])
    with pytest.raises(MissingRemote):
        find_pending(["1", "2", "3"], ["1", "3"])


def test_no_version_collides_with_the_apps_and_all_come_after_it():
    assert not set(CUECAST) & set(preplan.APP_VERSIONS)
    assert min(CUECAST) > max(preplan.APP_VERSIONS)
    assert sorted(CUECAST) == CUECAST


def test_an_empty_project_agrees(empty_hosted_db):
    assert find_pending(CUECAST, _remote(empty_hosted_db)) == CUECAST
    applied = migrate.migrate(empty_hosted_db)
    assert [m.version for m in applied] == CUECAST
    assert find_pending(CUECAST, _remote(empty_hosted_db)) == []


def test_the_apps_database_agrees(preplan_db):
    app_folder = sorted([*preplan.APP_VERSIONS, *CUECAST])
    remote = _remote(preplan_db)
    assert remote == list(preplan.APP_VERSIONS)
    assert find_pending(app_folder, remote) == CUECAST  # no --include-all needed
    applied = migrate.migrate(preplan_db)
    assert [m.version for m in applied] == CUECAST
    assert find_pending(app_folder, _remote(preplan_db)) == []
    # cuecast's folder alone is not the app's: the CLI would refuse it, cuecast does not
    with pytest.raises(MissingLocal):
        find_pending(CUECAST, _remote(preplan_db))


def test_a_database_with_the_old_history_is_refused_with_the_way_out(empty_db):
    migrate.install_local_supabase(empty_db)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(
            "create schema supabase_migrations;"
            "create table supabase_migrations.schema_migrations"
            " (version text primary key, statements text[], name text);"
            "insert into supabase_migrations.schema_migrations values"
            " ('20250923000000', '{}', 'base_schema')"
        )
    with pytest.raises(migrate.MigrationError, match="cuecast demo --fresh"):
        migrate.migrate(empty_db)
