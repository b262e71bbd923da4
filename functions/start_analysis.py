"""start-analysis: triggered by the start-analysis topic."""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._pubsub import handle
from shared.domain import Stage


@functions_framework.cloud_event
def start_analysis(event: Any) -> None:
    handle("start_analysis", Stage.ANALYSIS, event, lambda app, i: app.analysis_stage.run(i))
