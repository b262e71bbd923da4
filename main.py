"""The module Cloud Functions loads: every entry point, so one source archive serves all.

Deploy each function with its `--entry-point`: start_analysis, ssml, audio (Pub/Sub
CloudEvents), webhook and reconcile (HTTP).

functions-framework executes this module inside the application context of the Flask app it
is building for the chosen entry point; that app gets the hook that acknowledges deliveries
functions-framework itself would refuse (functions/_delivery.py). Imported anywhere else,
the module only exposes the entry points (`main.audio`, …), each imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

import flask

from functions import _delivery
from shared import bootstrap

ENTRY_POINTS = ("audio", "reconcile", "ssml", "start_analysis", "webhook")


def __getattr__(name: str) -> Any:
    """An entry point, its module imported when it is first asked for: a function's process
    imports only its own (functions-framework asks for one; bench/README.md, "Cold starts")."""
    if name in ENTRY_POINTS:
        return getattr(importlib.import_module(f"functions.{name}"), name)
    raise AttributeError(f"module 'main' has no attribute {name!r}")


if flask.has_app_context():
    _delivery.install(flask.current_app)
    bootstrap.start(flask.current_app.name)  # a missing setting fails the start, in one line
