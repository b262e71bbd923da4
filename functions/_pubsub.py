"""What every Pub/Sub-triggered entry point does: decode, run the stage, return or raise.

Returning acknowledges the message; raising asks Pub/Sub to redeliver it. A malformed
message, an unknown id or a permanent failure is logged with its reason and acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared import logs, messages
from shared.bootstrap import App, get_app
from shared.domain import Stage
from shared.errors import InvalidMessage, PermanentError
from shared.services.runner import Outcome

log = logging.getLogger("cuecast.functions")


def handle(function: str, stage: Stage, event: Any, run: Callable[[App, int], Outcome]) -> None:
    try:
        event_type = event["type"]
        doorbell = messages.decode_event(stage, event_type, event.get_data())
    except InvalidMessage as exc:
        log.warning(
            "malformed message acknowledged",
            extra={"function": function, "stage": stage, "reason": str(exc)},
        )
        return
    app = get_app(function)
    with logs.bind(function=function, stage=stage, trace=doorbell.trace, id=doorbell.id):
        try:
            outcome = run(app, doorbell.id)
        except PermanentError as exc:
            log.warning("message acknowledged", extra={"reason": str(exc)})
            return
        log.info("done", extra={"outcome": outcome})
