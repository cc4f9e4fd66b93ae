"""Normalized events and the work item the queue carries to the dispatcher."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from .base import Model

# Where a callback's events came from: backfill is a poll of the past asked for on purpose.
EventSource = Literal["webhook", "polling", "backfill"]
# An event's delivery, as the event log keeps it (store.deliveries).
DeliveryStatus = Literal["pending", "delivered", "retrying", "failed", "queued", "cancelled"]


class EventType(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    UNKNOWN = "UNKNOWN"


class NormalizedEvent(Model):
    """One entry of the callback's `message.events`, as Open Connectors sends it (SPEC §5-6)."""

    date: str  # ISO-8601 UTC, e.g. 2026-11-27T10:00:00Z
    elementKey: str = "intercom"
    hubKey: str = "marketing"
    eventType: EventType
    objectId: str
    objectType: str
    pollDate: str | None = None  # polling only

    def as_callback_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class CallbackJob(Model):
    """One callback to deliver: the body of one SQS message.

    Everything that must stay the same on every retry (eventId, notification id, createdDate) is
    fixed here, when the job is made; the instance's current settings are read at delivery time.
    """

    instanceId: int
    eventId: str
    notificationId: str  # the callback body's `id`
    source: EventSource
    createdDate: str  # Java Date.toString() form, as Open Connectors writes it
    enqueuedAt: str  # ISO-8601 UTC; part of the event log's sort key
    raw: dict[str, Any]
    events: list[NormalizedEvent] = Field(min_length=1)
    intercomNotificationId: str | None = None
    backfillId: str | None = None  # the backfill that sent it; the callback says so
