"""reconcile: Cloud Scheduler's minute sweep; `cuecast reconcile` runs the same code."""

from __future__ import annotations

import flask
import functions_framework

from shared import logs
from shared.bootstrap import get_app
from shared.services.reconciler import reconcile as reconcile_every_stage


@functions_framework.http
def reconcile(request: flask.Request) -> flask.Response:
    app = get_app("reconcile")
    with logs.bind(function="reconcile"):
        report = reconcile_every_stage(
            app.database,
            app.publisher_for("reconcile"),
            app.topics(),
            app.policy,
            storage=lambda: app.storage,  # built only if a sweep needs it
        )
    return flask.jsonify(
        republished={str(s): ids for s, ids in report.republish.items()},
        reclaimed={str(s): n for s, n in report.reclaimed.items()},
        failed={str(s): ids for s, ids in report.failed.items()},
    )
