"""The instance's circuit breaker, on its DELIVERY#STATE item beside the suspension (store.deliveries).

  failures, lastFailureDate        the run of failed attempts across the instance's events (closed)
  breaker                          "open" or "half-open"; absent when closed
  openUntil, probeUntil            epoch seconds: the cool-down's end, the probe's lease
  openings, openedDate             how many times it opened in a row, and when it first did

Each change is one conditional UpdateItem, so concurrent dispatchers agree on who opened it, who holds
the probe and who closed it. `deliveries.resume` deletes the item, the breaker with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..config import settings
from ..dates import utc_iso
from ..observability import tracer
from .aws import client
from .items import delivery_state_key, from_item, to_item

# Everything the breaker keeps; a close removes it all.
FIELDS = ("failures", "lastFailureDate", "breaker", "openUntil", "probeUntil", "openings", "openedDate")


def _epoch(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


def _update(instance_id: int, **request: Any) -> dict[str, Any] | None:
    """One UpdateItem on the state item: its answer's attributes, or None when the condition failed."""
    ddb = client("dynamodb")
    try:
        answer = ddb.update_item(
            TableName=settings().table_name, Key=delivery_state_key(instance_id), **request
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return None
    return from_item(answer.get("Attributes") or {})


@tracer.capture_method(capture_response=False)
def record_failure(instance_id: int, now: datetime) -> dict[str, Any]:
    """One more failed attempt in the run; the state as it now is."""
    state = _update(
        instance_id,
        UpdateExpression="ADD failures :one SET lastFailureDate = :now",
        ExpressionAttributeValues=to_item({":one": 1, ":now": utc_iso(now)}),
        ReturnValues="ALL_NEW",
    )
    return state or {}


@tracer.capture_method(capture_response=False)
def open_breaker(instance_id: int, now: datetime, until: datetime) -> dict[str, Any] | None:
    """Open a closed breaker; None when another worker opened it first (it publishes, not this one)."""
    return _update(
        instance_id,
        UpdateExpression="SET breaker = :open, openUntil = :until, openings = :one, openedDate = :now",
        ConditionExpression="attribute_not_exists(breaker)",
        ExpressionAttributeValues=to_item(
            {":open": "open", ":until": _epoch(until), ":one": 1, ":now": utc_iso(now)}
        ),
        ReturnValues="ALL_NEW",
    )


@tracer.capture_method(capture_response=False)
def take_probe(instance_id: int, now: datetime, lease_until: datetime) -> dict[str, Any] | None:
    """The probe's lease, once the cool-down is over and no other probe holds it; the state with it
    taken, or None when it is not this worker's to take."""
    return _update(
        instance_id,
        UpdateExpression="SET breaker = :half, probeUntil = :lease",
        ConditionExpression=(
            "attribute_exists(breaker) AND openUntil <= :now "
            "AND (attribute_not_exists(probeUntil) OR probeUntil < :now)"
        ),
        ExpressionAttributeValues=to_item(
            {":half": "half-open", ":lease": _epoch(lease_until), ":now": _epoch(now)}
        ),
        ReturnValues="ALL_NEW",
    )


@tracer.capture_method(capture_response=False)
def release_probe(instance_id: int) -> None:
    """Give the lease back without a verdict: the next job may probe."""
    _update(
        instance_id,
        UpdateExpression="REMOVE probeUntil",
        ConditionExpression="attribute_exists(breaker)",
    )


@tracer.capture_method(capture_response=False)
def reopen(instance_id: int, openings: int, until: datetime) -> dict[str, Any] | None:
    """A failed probe: open again for a longer cool-down; None when the breaker is gone meanwhile."""
    return _update(
        instance_id,
        UpdateExpression="SET breaker = :open, openUntil = :until, openings = :openings REMOVE probeUntil",
        ConditionExpression="attribute_exists(breaker)",
        ExpressionAttributeValues=to_item({":open": "open", ":until": _epoch(until), ":openings": openings}),
        ReturnValues="ALL_NEW",
    )


@tracer.capture_method(capture_response=False)
def close(instance_id: int) -> dict[str, Any] | None:
    """Forget the run and close the breaker; what there was before (None when there was nothing, and
    nothing was written)."""
    return _update(
        instance_id,
        UpdateExpression="REMOVE " + ", ".join(FIELDS),
        ConditionExpression="attribute_exists(failures) OR attribute_exists(breaker)",
        ReturnValues="UPDATED_OLD",
    )
