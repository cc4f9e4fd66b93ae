"""Turning normalized events into callback jobs: ids that never change, parts of bounded size."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from ..dates import utc_iso
from ..models.events import CallbackJob, NormalizedEvent

# Callback size limits of SPEC §6: a larger set is split, each part carrying the whole raw.
EVENTS_PER_CALLBACK = {"webhook": 20, "polling": 10, "backfill": 10}
_NAMESPACE = uuid.UUID("5b1c7c4e-54a8-4d8e-9a53-2a8b3d3c9e10")


def java_date(moment: datetime) -> str:
    """Java's Date.toString(), which Open Connectors uses for the callback's createdDate."""
    return moment.astimezone(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def make_jobs(
    instance_id: int,
    source: Literal["webhook", "polling", "backfill"],
    origin_key: str,
    raw: dict[str, Any],
    events: Sequence[NormalizedEvent],
    now: datetime,
    intercom_notification_id: str | None = None,
    backfill_id: str | None = None,
) -> list[CallbackJob]:
    """`origin_key` names what the events came from (a notification id, a poll window), so the same
    input always yields the same eventIds: a resent notification is recognised downstream."""
    size = EVENTS_PER_CALLBACK[source]
    parts = [list(events[i : i + size]) for i in range(0, len(events), size)]
    jobs = []
    for index, part in enumerate(parts):
        event_id = str(uuid.uuid5(_NAMESPACE, f"{instance_id}:{source}:{origin_key}:{index}"))
        jobs.append(
            CallbackJob(
                instanceId=instance_id,
                eventId=event_id,
                notificationId=str(uuid.uuid5(_NAMESPACE, f"notification:{event_id}")),
                source=source,
                createdDate=java_date(now),
                enqueuedAt=utc_iso(now, millis=True),
                raw=raw,
                events=part,
                intercomNotificationId=intercom_notification_id,
                backfillId=backfill_id,
            )
        )
    return jobs
