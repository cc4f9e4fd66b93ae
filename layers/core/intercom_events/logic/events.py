"""The event log as operators use it: list an instance's events, open one, replay one, replay what failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from dateutil.parser import isoparse

from ..dates import utc_iso
from ..errors import BadRequest, NotFound
from ..models.events import CallbackJob
from ..observability import logger
from ..store import bus, deliveries, queue
from . import breaker
from .auth import Caller
from .delivery import callback_body
from .instances import get_owned

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_EVENT_ID_LENGTH = 128


def _bound(value: str | None, field: str) -> str | None:
    """An ISO date as the log's sort key writes it (`2026-11-27T10:00:01.000Z`)."""
    if not value:
        return None
    try:
        moment = isoparse(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)  # overflows for year 1 ahead of UTC, or 9999 behind it
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{field} is not an ISO-8601 date", [{"field": field, "message": "not a date"}]
        ) from None
    return utc_iso(moment, millis=True)


def list_events(
    caller: Caller,
    instance_id: int,
    *,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    next_page: str | None = None,
    page_size: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], str | None]:
    get_owned(caller, instance_id)
    if status and status not in deliveries.STATUSES:
        allowed = ", ".join(deliveries.STATUSES)
        raise BadRequest(
            f"status must be one of {allowed}", [{"field": "status", "message": "unknown status"}]
        )
    lower, upper = _bound(since, "from"), _bound(until, "to")
    if lower and upper and lower > upper:
        raise BadRequest("from is after to", [{"field": "from", "message": "after to"}])
    try:
        return deliveries.list_events(
            instance_id,
            status=status,
            since=lower,
            until=upper,
            page_size=max(1, min(page_size, MAX_PAGE_SIZE)),
            next_page=next_page,
        )
    except deliveries.InvalidPageToken as exc:
        raise BadRequest(str(exc), [{"field": "nextPage", "message": "invalid page token"}]) from None


def event_detail(caller: Caller, instance_id: int, event_id: str) -> dict[str, Any]:
    """One event: its log entry, its kept attempts, and its callback as the dispatcher sends it, rebuilt
    from the kept job with the instance as it is now (a renamed instance's next try carries the new name).
    Never the callback's headers: the instance's configured ones and its credentials are secrets."""
    instance = get_owned(caller, instance_id)
    record = deliveries.get(instance_id, event_id) if len(event_id) <= MAX_EVENT_ID_LENGTH else None
    if record is None:
        raise NotFound(f"No event {event_id[:64]} in this instance's log")
    detail = {**deliveries.public(record), "attemptLog": deliveries.attempt_log(record)}
    kept = deliveries.kept_job(instance_id, event_id, record)  # on the record: no second read
    job = _kept(kept) if kept is not None else None
    if job is not None:
        detail["callback"] = {"url": instance.config.callback_url, "body": callback_body(job, instance)}
    return detail


def _kept(body: str) -> CallbackJob | None:
    """The kept job, or None when a large job's body has already expired from S3 (a day after the log
    would, though DynamoDB's TTL may delete the log's entry up to two days late)."""
    try:
        return queue.load(body)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def retry_one(caller: Caller, instance_id: int, event_id: str) -> dict[str, Any]:
    """Redeliver one event now, whatever its status: the same eventId, so receivers can tell."""
    get_owned(caller, instance_id)
    # Event ids are UUIDs; a longer one was never given out, and would exceed DynamoDB's key size.
    body = deliveries.kept_job(instance_id, event_id) if len(event_id) <= MAX_EVENT_ID_LENGTH else None
    if body is None:
        raise NotFound(f"No event {event_id[:64]} in this instance's log")
    deliveries.record_status(instance_id, event_id, "pending", datetime.now(UTC))
    queue.send_bodies([body], instance_id)
    logger.info("event replayed", extra={"instance_id": instance_id, "event_id": event_id})
    return {"instanceId": instance_id, "eventId": event_id, "status": "pending"}


def retry_all(caller: Caller, instance_id: int) -> dict[str, Any]:
    """Every failed or queued event again, oldest first, and the suspension lifted (Open Connectors'
    deliveries retry), the circuit breaker with it (both live on the state item). The suspension goes
    first, so the replayed events are attempted, not queued."""
    get_owned(caller, instance_id)
    was_suspended = bool(deliveries.state(instance_id).get("suspended"))
    deliveries.resume(instance_id)
    now = datetime.now(UTC)
    retried = breaker.requeue(instance_id, list(deliveries.replayable(instance_id)), now)
    logger.info(
        "events replayed", extra={"instance_id": instance_id, "events": retried, "resumed": was_suspended}
    )
    if was_suspended:
        bus.publish(
            bus.DetailType.RESUMED, instance_id, now, "deliveries retried by an operator", retried=retried
        )
    return {"instanceId": instance_id, "retried": retried, "resumed": was_suspended}
