"""The reconciler re-rings a queued job only when its doorbell is lost (issue 15, item 1):
under a bus that lags five times the grace it adds (almost) no doorbells and no drain time;
a lost doorbell is still rung within the grace and a sweep; two reconcilers never ring one
job twice, at grace 0 either. bench/reconcile.py runs the same scenario at 500 items."""

from __future__ import annotations

import pytest

from shared.queue import PROBE_MARGIN_SECONDS
from tests.lag import run_lagging

LAG, GRACE, SWEEP = 1.0, 0.2, 0.2  # the bus lags 5 x the grace


def test_a_lagging_bus_is_not_rung_again(db_url, tmp_path, pg_admin_url):
    quiet = run_lagging(
        db_url, tmp_path / "quiet", items=40, lag_s=LAG, grace_s=GRACE, sweep_s=None,
        delivery_s=0.005,
    )  # fmt: skip
    assert quiet.doorbells == quiet.needed == 80
    swept = run_lagging(
        db_url, tmp_path / "swept", items=40, lag_s=LAG, grace_s=GRACE, sweep_s=SWEEP,
        delivery_s=0.005,
    )  # fmt: skip
    print(f"doorbells {swept.doorbells}/{swept.needed}, probes {swept.probes},"
          f" drain {swept.drain_s:.2f} s against {quiet.drain_s:.2f} s")  # fmt: skip
    assert swept.doorbells <= 1.2 * swept.needed
    assert swept.probes > 0
    assert swept.drain_s <= 1.2 * quiet.drain_s + 0.5  # the slack: timing on a shared CI box


def test_a_lost_doorbell_is_rung_within_the_grace_and_a_sweep(db_url, tmp_path):
    grace, sweep = 0.5, 0.5
    run = run_lagging(db_url, tmp_path, items=10, lag_s=0.0, grace_s=grace, sweep_s=sweep, lose=3)
    assert [run.rings[fid] for fid in sorted(run.rings)] == [1, 1, 1] + [1] * 7
    # Lost at the start; rung (and drained) within grace + one sweep, plus the probe margin.
    assert run.drain_s <= grace + sweep + PROBE_MARGIN_SECONDS + 0.5


@pytest.mark.parametrize("grace", [0.0, 0.2])
def test_two_reconcilers_never_ring_one_job_twice(db_url, tmp_path, grace):
    run = run_lagging(
        db_url, tmp_path, items=30, lag_s=LAG, grace_s=grace, sweep_s=0.05, reconcilers=2,
        lose=5,
    )  # fmt: skip
    assert set(run.rings.values()) == {1}  # the lost ones once, by one reconciler; the rest never
    assert run.doorbells == run.needed
