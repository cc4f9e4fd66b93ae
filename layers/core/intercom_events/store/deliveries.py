"""Each event's delivery record: what makes a callback go out once, and the event log.

A delivery is claimed before the callback is sent: the conditional write refuses an event already
delivered (a duplicate notification, a redelivered message) and one another worker is sending now
(the lease), so two copies of one job never both reach the receiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ..config import settings
from ..models.events import CallbackJob
from ..observability import tracer
from .aws import client
from .items import event_key, from_item, to_item

LOG_DAYS = 30
Status = Literal["pending", "delivered", "retrying", "failed", "queued", "cancelled"]


@dataclass(frozen=True)
class Claim:
    outcome: Literal["claimed", "delivered", "busy"]
    attempts: int = 0
    busy_seconds: int = 0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@tracer.capture_method(capture_response=False)
def claim(job: CallbackJob, now: datetime, lease_seconds: int) -> Claim:
    ddb = client("dynamodb")
    expires = int((now + timedelta(days=LOG_DAYS)).timestamp())
    try:
        answer = ddb.update_item(
            TableName=settings().table_name,
            Key=event_key(job.instanceId, job.eventId),
            UpdateExpression=(
                "SET #status = if_not_exists(#status, :pending), leaseUntil = :lease, updatedDate = :now, "
                "createdDate = if_not_exists(createdDate, :now), eventId = :eventId, #source = :source, "
                "objectTypes = :types, expiresAt = :expires ADD attempts :one"
            ),
            ConditionExpression=(
                "attribute_not_exists(pk) OR (#status <> :delivered AND #status <> :cancelled "
                "AND (attribute_not_exists(leaseUntil) OR leaseUntil < :epoch))"
            ),
            ExpressionAttributeNames={"#status": "status", "#source": "source"},
            ExpressionAttributeValues=to_item(
                {
                    ":pending": "pending",
                    ":delivered": "delivered",
                    ":cancelled": "cancelled",
                    ":lease": int(now.timestamp()) + lease_seconds,
                    ":epoch": int(now.timestamp()),
                    ":now": _iso(now),
                    ":eventId": job.eventId,
                    ":source": job.source,
                    ":types": sorted({e.objectType for e in job.events}),
                    ":expires": expires,
                    ":one": 1,
                }
            ),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ddb.exceptions.ConditionalCheckFailedException as exc:
        old = from_item(exc.response.get("Item", {}))
        if old.get("status") in ("delivered", "cancelled"):
            return Claim("delivered", attempts=old.get("attempts", 0))
        return Claim("busy", busy_seconds=max(1, int(old.get("leaseUntil", 0)) - int(now.timestamp())))
    return Claim("claimed", attempts=int(answer["Attributes"]["attempts"]["N"]))


@tracer.capture_method(capture_response=False)
def record(
    job: CallbackJob,
    status: Status,
    now: datetime,
    response_code: int | None = None,
    error: str | None = None,
) -> None:
    values: dict[str, Any] = {":status": status, ":now": _iso(now)}
    sets = ["#status = :status", "updatedDate = :now"]
    removes = ["leaseUntil"]
    for name, value in (("lastResponseCode", response_code), ("lastError", error)):
        if value is None:
            removes.append(name)
        else:
            values[f":{name}"] = value
            sets.append(f"{name} = :{name}")
    if status == "delivered":
        sets.append("deliveredDate = :now")
    client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=event_key(job.instanceId, job.eventId),
        UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=to_item(values),
    )


@tracer.capture_method(capture_response=False)
def get(instance_id: int, event_id: str) -> dict[str, Any] | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name, Key=event_key(instance_id, event_id)
    )
    return from_item(answer["Item"]) if "Item" in answer else None
