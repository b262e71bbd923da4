"""The module Cloud Functions loads: every entry point, so one source archive serves all.

Deploy each function with its `--entry-point`: start_analysis, ssml, audio (Pub/Sub
CloudEvents), webhook and reconcile (HTTP).

functions-framework executes this module inside the application context of the Flask app it
is building for the chosen entry point; that app gets the hook that acknowledges deliveries
functions-framework itself would refuse (functions/_delivery.py). Imported anywhere else,
the module only exposes the entry points.
"""

from __future__ import annotations

import flask

from functions import _delivery
from functions.audio import audio
from functions.reconcile import reconcile
from functions.ssml import ssml
from functions.start_analysis import start_analysis
from functions.webhook import webhook
from shared import bootstrap

if flask.has_app_context():
    _delivery.install(flask.current_app)
    bootstrap.start(flask.current_app.name)  # a missing setting fails the start, in one line

__all__ = ["audio", "reconcile", "ssml", "start_analysis", "webhook"]
