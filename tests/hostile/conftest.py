"""A world shared by the tests of one module, for inputs that must change nothing.

Cloning a database per test dominates the runtime of a hundred poison deliveries. These
tests share one database per module instead, and each starts by asserting the world is still
exactly as built, so a delivery that changed something fails its own test (and every later
one, loudly) rather than hiding behind a fresh clone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.db.helpers import add_feedback, analysis_job
from tests.hostile.deliveries import snapshot
from tests.pipeline.harness import Pipeline, pipeline


@dataclass
class SharedWorld:
    conn: psycopg.Connection[Any]
    pipeline: Pipeline
    pristine: dict[str, list[str]]


def build_claimable_world(conn: psycopg.Connection[Any]) -> None:
    """Analysis job 1, and feedback 1 with both its SSML and audio jobs claimable."""
    _, _, job_id = analysis_job(conn)
    feedback_id = add_feedback(conn, job_id, 0, "Chin up.")
    conn.execute("select cuecast.enqueue_audio(%s)", (feedback_id,))
    conn.execute("update analysis_feedback set ssml_status = 'completed' where id = 1")
    assert job_id == feedback_id == 1


@pytest.fixture(scope="module")
def shared_world(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedWorld]:
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        build_claimable_world(conn)
        with pipeline(module_db_url, tmp_path_factory.mktemp("hostile")) as p:
            yield SharedWorld(conn, p, snapshot(conn))


@pytest.fixture
def world(shared_world: SharedWorld) -> SharedWorld:
    """The shared world, checked to be exactly as built before the test touches it."""
    assert snapshot(shared_world.conn) == shared_world.pristine, "an earlier test changed it"
    assert shared_world.pipeline.bus.published == [], "an earlier test published"
    return shared_world
