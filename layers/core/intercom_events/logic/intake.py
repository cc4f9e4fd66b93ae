"""Webhook intake: verify, normalize, enqueue, answer. Never waits on the callback.

The hot path is one SQS call; the instance (with its unsealed secrets) is cached for a few seconds,
so a burst of notifications costs one DynamoDB read and one KMS decrypt. Deduplication of resent
notifications and the event log happen behind the queue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import json_body
from ..config import settings
from ..errors import BadRequest, NotFound, Unauthorized
from ..intercom.signature import verify_hub_signature
from ..intercom.topics import normalize
from ..models.instance import Instance
from ..observability import MetricUnit, logger, metrics
from ..store import queue
from ..ttl_cache import TtlCache
from . import instances
from .jobs import make_jobs

# Intercom's topics and notification ids are a few dozen characters ("notif_<uuid>").
MAX_NAME_LENGTH = 255


_instances: TtlCache[int, Instance] = TtlCache(lambda: settings().instance_cache_seconds)


@dataclass(frozen=True)
class IntakeResult:
    outcome: str  # accepted | ping | dropped | filtered
    events: int = 0


def decode_instance_id(encoded: str) -> int:
    """The path carries the standard Base64 of the decimal id (the seed's NDEw is 410)."""
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.isdigit() or len(text) > 18:
        raise NotFound("No instance for this webhook URL")
    return int(text)


def check_url(encoded: str) -> None:
    """HEAD/GET on the webhook URL: Intercom checks it before saving; answer 200 for a live instance."""
    _instances.get_or_load(decode_instance_id(encoded), instances.for_webhook)


def accept(encoded: str, body: bytes, signature: str | None) -> IntakeResult:
    instance_id = decode_instance_id(encoded)
    logger.append_keys(instance_id=instance_id)
    metrics.add_metric(name="WebhooksReceived", unit=MetricUnit.Count, value=1)
    try:
        instance = _instances.get_or_load(instance_id, instances.for_webhook)
        config = instance.config
        if not verify_hub_signature(body, signature, config.oauth_api_secret or ""):
            raise Unauthorized("Invalid or missing X-Hub-Signature")
        notification = _parse(body)
    except (BadRequest, Unauthorized, NotFound) as exc:
        metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
        logger.info("webhook rejected", extra={"status": exc.status, "reason": exc.message})
        raise
    notification_id = notification.get("id")
    logger.append_keys(intercom_notification_id=notification_id)
    topic = notification.get("topic")
    if instance.disabled or not config.events_enabled or config.vendor_type != "webhook":
        metrics.add_metric(name="WebhooksDropped", unit=MetricUnit.Count, value=1)
        logger.info("webhook dropped: events off for this instance", extra={"topic": topic})
        return IntakeResult("dropped")
    if topic == "ping":
        logger.info("webhook ping")
        return IntakeResult("ping")
    events = [e for e in normalize(notification) if config.watches(e.objectType)]
    if not events:
        metrics.add_metric(name="WebhooksFiltered", unit=MetricUnit.Count, value=1)
        logger.info("webhook filtered by event.objects", extra={"topic": topic})
        return IntakeResult("filtered")
    # A resent notification carries the same id, hence the same eventId: delivered once downstream.
    origin = str(notification_id) if notification_id else hashlib.sha256(body).hexdigest()
    jobs = make_jobs(instance.id, "webhook", origin, notification, events, datetime.now(UTC), notification_id)
    queue.send(jobs)
    metrics.add_metric(name="EventsEnqueued", unit=MetricUnit.Count, value=len(events))
    # event_id is the key that follows this notification through the dispatcher's lines to the callback.
    logger.info(
        "webhook accepted",
        extra={"topic": topic, "event_id": jobs[0].eventId, "parts": len(jobs), "events": len(events)},
    )
    return IntakeResult("accepted", events=len(events))


def _parse(body: bytes) -> dict:
    # Read with limits: a signed body nested 300 deep or holding a lone surrogate is a 400, not a job
    # that the queue or the callback could not serialize.
    notification = json_body.parse(body, "The body is not JSON")
    if not isinstance(notification, dict) or notification.get("type") != "notification_event":
        raise BadRequest("The body is not an Intercom notification_event")
    topic = notification.get("topic")
    if not isinstance(topic, str):
        raise BadRequest("The notification has no topic", [{"field": "topic", "message": "required"}])
    if len(topic) > MAX_NAME_LENGTH:
        # The topic names the events' objectType, kept in the event log (a DynamoDB item).
        raise BadRequest("The topic is too long", [{"field": "topic", "message": f"over {MAX_NAME_LENGTH}"}])
    notification_id = notification.get("id")
    if not isinstance(notification_id, str | None):
        # Intercom's notification ids are strings; the id becomes the callback job's intercomNotificationId.
        raise BadRequest("The notification id is not a string", [{"field": "id", "message": "not a string"}])
    if notification_id and len(notification_id) > MAX_NAME_LENGTH:
        raise BadRequest(
            "The notification id is too long", [{"field": "id", "message": f"over {MAX_NAME_LENGTH}"}]
        )
    return notification
