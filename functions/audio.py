"""audio: triggered by the audio topic."""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._pubsub import handle


@functions_framework.cloud_event
def audio(event: Any) -> None:
    handle("audio", event)
