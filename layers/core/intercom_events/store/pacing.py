"""The rate limit's slots: one item per instance holding when its next callback may go.

  INSTANCE#<id> / DELIVERY#PACE    nextSlot: epoch seconds (with fractions) of the first free slot

Reserving k slots at r a second moves nextSlot on by k/r in ONE conditional UpdateItem: ADD when the
instance is busy (nextSlot still ahead of now: the reservation starts where the last one ended), SET to
now + k/r when it is idle (nextSlot behind now, or no item yet: it starts now). A dispatcher reserves once
per batch for all of an instance's records in it (logic.pacing), so the item takes a write per batch, never
one per callback, and its writes are bounded by the dispatcher's concurrency.
"""

from __future__ import annotations

import math
from decimal import Decimal

from botocore.exceptions import ClientError

from ..config import settings
from ..observability import tracer
from .aws import client
from .items import pace_key

# The item is of no use once nextSlot is behind; TTL takes it a week after its last reservation.
KEEP_SECONDS = 7 * 86400
# Slots are kept to the microsecond; a reservation's length is rounded up, so two never overlap.
_QUANTUM = Decimal("0.000001")

# The last nextSlot this process saw of each instance: which of the two writes to try first (a wrong
# guess costs one refused conditional write, never a wrong slot).
_seen: dict[int, float] = {}


def _micro(value: float, rounding: str = "ROUND_HALF_EVEN") -> Decimal:
    return Decimal(repr(value)).quantize(_QUANTUM, rounding=rounding)


@tracer.capture_method(capture_response=False)
def reserve(instance_id: int, count: int, rate: float, now: float) -> float:
    """The first of `count` consecutive slots at `rate` a second (epoch seconds, never before `now`);
    the others follow it 1/rate apart."""
    length = _micro(count / rate, "ROUND_CEILING")
    at = _micro(now)
    busy_first = _seen.get(instance_id, -math.inf) > now
    while True:  # each try's condition fails only when another dispatcher moved the item in between
        for busy in (busy_first, not busy_first):
            start = _added(instance_id, length, at) if busy else _set(instance_id, length, at)
            if start is not None:
                _seen[instance_id] = start + float(length)
                return start


def _added(instance_id: int, length: Decimal, now: Decimal) -> float | None:
    """Busy: the slots after the last reservation's, or None when nextSlot is behind now (or absent)."""
    try:
        answer = client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=pace_key(instance_id),
            UpdateExpression="ADD nextSlot :length SET expiresAt = :expires",
            ConditionExpression="nextSlot >= :now",
            ExpressionAttributeValues={
                ":length": {"N": str(length)},
                ":now": {"N": str(now)},
                ":expires": {"N": str(int(now) + KEEP_SECONDS)},
            },
            ReturnValues="UPDATED_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return float(answer["Attributes"]["nextSlot"]["N"])


def _set(instance_id: int, length: Decimal, now: Decimal) -> float | None:
    """Idle: slots from now on, or None when another reservation holds slots ahead of now."""
    try:
        client("dynamodb").update_item(
            TableName=settings().table_name,
            Key=pace_key(instance_id),
            UpdateExpression="SET nextSlot = :next, expiresAt = :expires",
            ConditionExpression="attribute_not_exists(nextSlot) OR nextSlot < :now",
            ExpressionAttributeValues={
                ":next": {"N": str(now + length)},
                ":now": {"N": str(now)},
                ":expires": {"N": str(int(now) + KEEP_SECONDS)},
            },
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return float(now)
