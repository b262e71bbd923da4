"""The module Cloud Functions loads: every entry point, so one source archive serves all.

Deploy each function with its `--entry-point`: start_analysis, ssml, audio (Pub/Sub
CloudEvents), webhook and reconcile (HTTP).
"""

from __future__ import annotations

from functions.audio import audio
from functions.reconcile import reconcile
from functions.ssml import ssml
from functions.start_analysis import start_analysis
from functions.webhook import webhook

__all__ = ["audio", "reconcile", "ssml", "start_analysis", "webhook"]
