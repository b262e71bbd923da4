"""Shared fixtures: every test that touches SQL gets its own database, cloned from a
template that was migrated once per test worker (real Postgres, never SQLite)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from shared import migrate
from tests import preplan
from tests.pg import admin_url, with_database


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return admin_url()


def create_database(admin: str, name: str, template: str | None = None) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        query = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("{} template {}").format(query, sql.Identifier(template))
        conn.execute(query)


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    """A migrated database (with the local Supabase surface) to clone per test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"cuecast_tpl_{worker}_{os.getpid()}"
    drop_database(pg_admin_url, name)
    create_database(pg_admin_url, name)
    url = with_database(pg_admin_url, name)
    migrate.install_local_supabase(url)
    migrate.migrate(url)
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def empty_db(pg_admin_url: str) -> Iterator[str]:
    """A database with nothing in it: for migration tests."""
    name = f"cuecast_e_{uuid.uuid4().hex[:12]}"
    create_database(pg_admin_url, name)
    yield with_database(pg_admin_url, name)
    drop_database(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh, fully migrated database for one test; its URL (superuser)."""
    name = f"cuecast_t_{uuid.uuid4().hex[:12]}"
    create_database(pg_admin_url, name, template=template_db)
    yield with_database(pg_admin_url, name)
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="module")
def module_db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh, fully migrated database shared by one test module (superuser URL).

    For modules of many small cases that leave the shared rows alone (poison input that must
    change nothing, rolled-back access checks) or each add rows of their own: they share the
    cost of one clone instead of paying it per case.
    """
    name = f"cuecast_m_{uuid.uuid4().hex[:12]}"
    create_database(pg_admin_url, name, template=template_db)
    yield with_database(pg_admin_url, name)
    drop_database(pg_admin_url, name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A superuser connection (autocommit) to the test's database, for setup and checks."""
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def _clone_as_hosted(admin: str, template: str, prefix: str) -> tuple[str, str]:
    """A copy of `template`, owned by the hosted role: (name, the hosted role's URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create database {} template {} owner {}").format(
                sql.Identifier(name), sql.Identifier(template), sql.Identifier(preplan.HOSTED_ROLE)
            )
        )
    return name, preplan.as_role(with_database(admin, name))


@pytest.fixture(scope="session")
def preplan_template(pg_admin_url: str) -> Iterator[str]:
    """The app's pre-plan database with its rows and CLI history, not migrated."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"cuecast_pre_{worker}_{os.getpid()}"
    drop_database(pg_admin_url, name)
    preplan.create_database(pg_admin_url, name)
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def adopted_template(pg_admin_url: str, preplan_template: str) -> Iterator[str]:
    """The pre-plan database after every cuecast migration, applied as the hosted role."""
    name, url = _clone_as_hosted(pg_admin_url, preplan_template, "cuecast_adopted_tpl")
    migrate.migrate(url)
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def preplan_db(pg_admin_url: str, preplan_template: str) -> Iterator[str]:
    """A fresh copy of the pre-plan database; the hosted (non-superuser) role's URL."""
    name, url = _clone_as_hosted(pg_admin_url, preplan_template, "cuecast_pre")
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture
def adopted_db(pg_admin_url: str, adopted_template: str) -> Iterator[str]:
    """A fresh copy of the adopted database; the hosted (non-superuser) role's URL."""
    name, url = _clone_as_hosted(pg_admin_url, adopted_template, "cuecast_ad")
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture
def empty_hosted_db(pg_admin_url: str) -> Iterator[str]:
    """An empty database as a fresh Supabase project holds it (the local surface, hosted
    ownership); the hosted (non-superuser) role's URL."""
    name = f"cuecast_eh_{uuid.uuid4().hex[:12]}"
    url = preplan.create_empty_hosted(pg_admin_url, name)
    yield url
    drop_database(pg_admin_url, name)
