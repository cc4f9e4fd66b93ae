"""Delivering one callback job: claim it, sign it, POST it, and decide what a failure means.

Retries ride on SQS: a failed job is hidden for the schedule's delay (ChangeMessageVisibility) and
reported as a batch item failure; its receive count is the attempt number. After the last attempt
the event is failed and the instance's deliveries are suspended (later jobs are kept as queued until
an operator retries them, as Open Connectors does); the message is let go at once and the queue's
redrive policy moves it to the dead-letter queue, whose alarm tells the operator. A 410 turns the
instance's events off.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..callbacks.client import post_callback
from ..callbacks.schedule import MAX_ATTEMPTS, honour_retry_after, retry_delay
from ..callbacks.signing import callback_headers
from ..config import settings
from ..models.events import CallbackJob
from ..models.instance import Instance
from ..observability import MetricUnit, logger, metrics
from ..store import deliveries
from ..store import instances as instance_store
from ..ttl_cache import TtlCache
from .jobs import EVENTS_PER_CALLBACK

_instances: TtlCache[int, Instance | None] = TtlCache(lambda: settings().instance_cache_seconds)
_states: TtlCache[int, dict[str, Any]] = TtlCache(lambda: settings().instance_cache_seconds)


class RetryLater(Exception):
    """The job failed this time; SQS should offer it again after `delay` seconds."""

    def __init__(self, delay: int, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | duplicate | cancelled | queued | gone
    response_code: int | None = None


def callback_body(job: CallbackJob, instance: Instance) -> dict[str, Any]:
    """Open Connectors' callback body (SPEC §6)."""
    return {
        "severity": "medium",
        "createdDate": job.createdDate,
        "topic": f"instance-{instance.id}-intercom-events",
        "action": "create",
        "id": job.notificationId,
        "user": instance.owner_name,
        "message": {
            "elementKey": "intercom",
            "accountId": 1,
            "companyId": 1,
            "userId": instance.owner_id,
            "eventId": job.eventId,
            "instanceId": instance.id,
            "instance_id": instance.id,
            "instanceName": instance.name,
            "instanceTags": instance.tags,
            "raw": job.raw,
            "events": [event.as_callback_dict() for event in job.events[: EVENTS_PER_CALLBACK[job.source]]],
        },
    }


def _state(instance_id: int) -> dict[str, Any]:
    return _states.get_or_load(instance_id, deliveries.state)


async def deliver(job: CallbackJob, message_body: str, attempt: int) -> Outcome:
    """`attempt` is SQS's receive count: 1 on the first try, and again 1 when an operator replays it."""
    # Records of one batch run concurrently, so ids go on each line rather than on the shared logger.
    ids = {
        "instance_id": job.instanceId,
        "event_id": job.eventId,
        "intercom_notification_id": job.intercomNotificationId,
    }
    instance = await asyncio.to_thread(_instances.get_or_load, job.instanceId, instance_store.get)
    now = datetime.now(UTC)
    if instance is None or instance.deleted or instance.disabled or not instance.settings.events_enabled:
        await asyncio.to_thread(
            deliveries.record, job, "cancelled", now, None, "events off for this instance"
        )
        logger.info("callback cancelled: events off for this instance", extra=ids)
        return Outcome("cancelled")
    if (await asyncio.to_thread(_state, job.instanceId)).get("suspended"):
        # Open Connectors' suspension: kept, not attempted, until an operator retries the instance.
        await asyncio.to_thread(deliveries.keep_job, job, message_body, now)
        await asyncio.to_thread(deliveries.record, job, "queued", now, None, "deliveries suspended")
        metrics.add_metric(name="EventsQueued", unit=MetricUnit.Count, value=1)
        logger.info("callback queued: deliveries to this instance are suspended", extra=ids)
        return Outcome("queued")
    config = instance.settings
    lease = int(settings().callback_timeout_seconds) + 15
    claim = await asyncio.to_thread(deliveries.claim, job, now, lease)
    if claim.outcome == "done":
        metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
        logger.info(f"callback already {claim.status}; duplicate skipped", extra=ids)
        return Outcome("duplicate")
    if claim.outcome == "busy":
        raise RetryLater(claim.busy_seconds, "another worker holds this event")
    if claim.attempts == 1:  # kept once, for an operator's replay
        await asyncio.to_thread(deliveries.keep_job, job, message_body, now)

    body = json.dumps(callback_body(job, instance), separators=(",", ":")).encode()
    headers = callback_headers(
        body, job.eventId, config.signature_key, now, config.callback_headers, config.basic_auth
    )
    answer = await post_callback(config.callback_url or "", body, headers)
    code, error = answer.status, answer.error
    metrics.add_metric(name="DeliveryLatency", unit=MetricUnit.Milliseconds, value=answer.elapsed_ms)
    facts = {**ids, "attempt": attempt, "status": code, "error": error, "ms": round(answer.elapsed_ms)}

    if answer.delivered:
        await asyncio.to_thread(deliveries.record, job, "delivered", datetime.now(UTC), code)
        metrics.add_metric(name="DeliveriesSucceeded", unit=MetricUnit.Count, value=1)
        logger.info("callback delivered", extra=facts)
        return Outcome("delivered", code)

    metrics.add_metric(name="DeliveriesFailed", unit=MetricUnit.Count, value=1)
    if code == 410:
        # The receiver says it is gone for good: events off for the instance, as Open Connectors does.
        await asyncio.to_thread(
            deliveries.record, job, "failed", datetime.now(UTC), code, "receiver gone (410)"
        )
        await asyncio.to_thread(instance_store.turn_events_off, job.instanceId)
        _instances.forget(job.instanceId)
        logger.warning("callback refused with 410: events turned off for the instance", extra=facts)
        return Outcome("gone", code)
    delay = retry_delay(attempt)
    if code in (429, 503):
        delay = honour_retry_after(answer.retry_after, attempt, now) or delay
    if delay is None or attempt >= MAX_ATTEMPTS:
        await asyncio.to_thread(deliveries.record, job, "failed", datetime.now(UTC), code, error)
        await asyncio.to_thread(deliveries.suspend, job.instanceId, job.eventId, datetime.now(UTC))
        _states.forget(job.instanceId)
        metrics.add_metric(name="DeliveriesSuspended", unit=MetricUnit.Count, value=1)
        logger.error("callback failed: retries spent; deliveries to the instance suspended", extra=facts)
        raise RetryLater(0, "retries spent")  # redrive also moves it to the dead-letter queue (its alarm)
    await asyncio.to_thread(deliveries.record, job, "retrying", datetime.now(UTC), code, error)
    logger.warning("callback failed; will retry", extra={**facts, "retry_in_seconds": delay})
    raise RetryLater(delay, error or "failed")
