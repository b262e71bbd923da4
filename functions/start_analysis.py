"""start-analysis: triggered by the start-analysis topic."""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._pubsub import handle


@functions_framework.cloud_event
def start_analysis(event: Any) -> None:
    handle("start_analysis", event)
