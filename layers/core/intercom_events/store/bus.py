"""Operational events on the stack's EventBridge bus: an instance's deliveries suspended or resumed, its
events turned off by a 410, its circuit breaker opened or closed, its poller refused by Intercom. One
PutEvents per occurrence (they are rare); README "Operational events" documents each detail-type and
the detail.

Publishing tells, it never decides: a refused entry or a failed call is logged and dropped, so a
delivery, a retry or a poll never fails because the bus did. A detail carries ids, dates and reasons
the event log already shows, never a secret.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..config import settings
from ..dates import utc_iso
from ..observability import logger, tracer
from .aws import client

# Fixed, not per stack: each stack has a bus of its own, and a rule matches on this.
SOURCE = "intercom-events"


class DetailType(StrEnum):
    SUSPENDED = "Instance Suspended"
    RESUMED = "Instance Resumed"
    EVENTS_TURNED_OFF = "Instance Events Turned Off"
    POLLER_REFUSED = "Poller Authorization Refused"
    BREAKER_OPENED = "Instance Breaker Opened"
    BREAKER_CLOSED = "Instance Breaker Closed"


@tracer.capture_method(capture_response=False)
def publish(detail_type: DetailType, instance_id: int, when: datetime, reason: str, **facts: Any) -> bool:
    """One event on the bus: `instanceId`, `time`, `reason` and the kind's own `facts` (None left out).
    True when the bus took it; False (logged) when it did not, or no bus is configured."""
    bus = settings().event_bus_name
    ids = {"instance_id": instance_id, "detail_type": str(detail_type)}
    if not bus:
        logger.warning("operational event not published: no EVENT_BUS_NAME", extra=ids)
        return False
    detail = {"instanceId": instance_id, "time": utc_iso(when), "reason": reason}
    detail |= {name: value for name, value in facts.items() if value is not None}
    entry = {
        "EventBusName": bus,
        "Source": SOURCE,
        "DetailType": str(detail_type),
        "Detail": json.dumps(detail, separators=(",", ":")),
        "Time": when,
    }
    try:
        answer = client("events").put_events(Entries=[entry])
    except Exception as exc:  # the bus is a bystander: whatever went wrong, the caller goes on
        logger.error("operational event not published", extra={**ids, "error": type(exc).__name__})
        return False
    if answer.get("FailedEntryCount"):
        refused = (answer.get("Entries") or [{}])[0]
        logger.error("operational event refused by the bus", extra={**ids, "error": refused.get("ErrorCode")})
        return False
    logger.info("operational event published", extra=ids)
    return True
