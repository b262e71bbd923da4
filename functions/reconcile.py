"""reconcile: Cloud Scheduler's minute sweep (DESIGN.md step 7); `cuecast reconcile` runs
the same code."""

from __future__ import annotations

import flask
import functions_framework

from shared import logs
from shared.bootstrap import get_app
from shared.services.relay import reconcile as sweep


@functions_framework.http
def reconcile(request: flask.Request) -> flask.Response:
    app = get_app("reconcile")
    with logs.bind(function="reconcile"):
        report = sweep(app.pool, app.publisher_for("reconcile"), app.topics(), app.policy)
    return flask.jsonify(
        republished={str(s): ids for s, ids in report.republish.items()},
        reclaimed={str(s): n for s, n in report.reclaimed.items()},
        failed={str(s): ids for s, ids in report.failed.items()},
    )
