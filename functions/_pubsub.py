"""What every Pub/Sub-triggered entry point does: decode, run the stage, return or raise.

Returning acknowledges the message; raising asks Pub/Sub to redeliver it (a planned
redelivery, RetryLater or NotDue, is answered 429 without a traceback: functions/_delivery.py).
A malformed message, an unknown id or a permanent failure (shared/errors.py decides which
failures are) is logged with its reason and acknowledged. A reconciler probe is marked
delivered and acknowledged. A message that asks for a re-run re-queues its job first (once per
message id; a running job makes it wait for a redelivery).
"""

from __future__ import annotations

import logging
from typing import Any

from shared import logs, messages
from shared.bootstrap import App, get_app
from shared.errors import InvalidMessage, NotDue, PermanentError
from shared.stages import stage_of

log = logging.getLogger("cuecast.functions")


def handle(function: str, event: Any) -> None:
    """Work the doorbell `event` rang for the stage `function` works (shared/stages.py)."""
    stage = stage_of(function)
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
    if doorbell.probe:  # the reconciler asks whether the bus has moved past its probe
        known = app.database.probe_delivered(doorbell.id)
        log.info(
            "probe delivered", extra={"function": function, "probe": doorbell.id, "known": known}
        )
        return
    with logs.bind(function=function, stage=stage, trace=doorbell.trace, id=doorbell.id):
        try:
            if doorbell.rerun:
                _rerun(app, doorbell)
            outcome = app.run(stage, doorbell.id)
        except PermanentError as exc:
            log.warning("message acknowledged", extra={"reason": str(exc)})
            return
        except NotDue as exc:  # answered 429 (functions/_delivery.py): Pub/Sub redelivers
            log.warning("not due yet; redelivery asked", extra={"reason": str(exc)})
            raise
        log.info("done", extra={"outcome": outcome})


def _rerun(app: App, doorbell: messages.Doorbell) -> None:
    """Re-queue the job the message asks to run again (once per message id)."""
    assert doorbell.message_id is not None  # decode_event refuses a re-run without one
    said = app.database.rerun(doorbell.stage, doorbell.id, doorbell.message_id)
    if said == "running":  # answered 429: Pub/Sub brings the request back later
        raise NotDue(f"{doorbell.stage} {doorbell.id} is running; the re-run waits for it")
    log.info("re-run asked", extra={"rerun": said, "message_id": doorbell.message_id})
