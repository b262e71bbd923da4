"""ssml: triggered by the ssml topic."""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._pubsub import handle
from shared.domain import Stage


@functions_framework.cloud_event
def ssml(event: Any) -> None:
    handle("ssml", Stage.SSML, event, lambda app, i: app.ssml_stage.run(i))
