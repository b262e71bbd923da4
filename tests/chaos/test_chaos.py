"""The chaos run at CI size, and the same run with every connection to the test's database
cut mid-run; each asserts that every kind of fault was injected, then the invariants
(checked inside run_chaos: every item completed but the doomed ones, whose audio jobs end
failed, one segment set each, no orphan objects — the failed jobs' uploads removed —,
attempts within the maximum, nothing left processing)."""

from __future__ import annotations

import os
import secrets

import pytest

from tests.chaos.run import ChaosConfig, run_chaos


def _seed() -> int:
    return int(os.environ.get("CHAOS_SEED") or secrets.randbelow(2**31))


@pytest.mark.timeout(600)
def test_chaos_run(db_url, tmp_path):
    report = run_chaos(db_url, tmp_path, ChaosConfig(seed=_seed()))
    report.print()
    counts = report.counts
    assert counts["duplicated"] >= 20
    assert counts["dropped"] >= 10
    assert counts["killed mid-job"] >= 5
    assert counts["transient"] >= 5
    assert counts["reordered"] >= 10
    assert counts["permanent speech failures"] >= 20  # one doomed item per video
    assert len(report.checked) == 7


@pytest.mark.timeout(600)
def test_chaos_run_with_connections_cut(db_url, tmp_path):
    config = ChaosConfig(seed=_seed(), videos=8, terminate_every_s=0.7, terminations=4)
    report = run_chaos(db_url, tmp_path, config)
    report.print()
    assert report.counts["connections terminated"] >= 4
    assert len(report.checked) == 7
