"""ssml: triggered by the ssml topic."""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._pubsub import handle


@functions_framework.cloud_event
def ssml(event: Any) -> None:
    handle("ssml", event)
