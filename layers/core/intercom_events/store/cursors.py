"""Polling state in DynamoDB: one cursor per instance and resource, a lock per instance, a status.

INSTANCE#<id> / CURSOR#<resource>  where the last complete pass ended, what it sent, where to resume
INSTANCE#<id> / POLL#LOCK          the lease that keeps two polls of one instance apart
INSTANCE#<id> / POLL#STATUS        the last poll's outcome, Intercom's refusal of the token (401) until a
                                   poll is let in again, and when polling started (no poll reaches back
                                   further); the instance's answer shows it as `pollerStatus`
"""

from __future__ import annotations

import contextlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..config import settings
from ..observability import tracer
from .aws import client
from .items import from_item, to_item


def _key(instance_id: int, sk: str) -> dict[str, Any]:
    return {"pk": {"S": f"INSTANCE#{instance_id}"}, "sk": {"S": sk}}


@dataclass
class Cursor:
    """`since`: the start of the next window (the previous pass's start time, epoch seconds).
    `seen`: record id -> the updated time already sent, for records near the window's edge.
    `resume`: where an unfinished pass stopped (its window and page cursor), or None."""

    since: float
    seen: dict[str, float] = field(default_factory=dict)
    resume: dict[str, Any] | None = None


@tracer.capture_method(capture_response=False)
def load(instance_id: int, resource: str) -> Cursor | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name, Key=_key(instance_id, f"CURSOR#{resource}"), ConsistentRead=True
    )
    if "Item" not in answer:
        return None
    values = from_item(answer["Item"])
    # The seen map can hold thousands of ids: compressed, it stays far below DynamoDB's 400 KB item limit.
    seen = json.loads(zlib.decompress(values["seen"])) if values.get("seen") else {}
    return Cursor(since=float(values["since"]), seen=seen, resume=values.get("resume"))


@tracer.capture_method(capture_response=False)
def save(instance_id: int, resource: str, cursor: Cursor) -> None:
    values: dict[str, Any] = {
        "since": cursor.since,
        "seen": zlib.compress(json.dumps(cursor.seen, separators=(",", ":")).encode(), 6),
        "resume": cursor.resume,
    }
    client("dynamodb").put_item(
        TableName=settings().table_name, Item={**_key(instance_id, f"CURSOR#{resource}"), **to_item(values)}
    )


@tracer.capture_method(capture_response=False)
def acquire_lock(instance_id: int, owner: str, now: float, lease_seconds: float) -> bool:
    ddb = client("dynamodb")
    try:
        ddb.put_item(
            TableName=settings().table_name,
            Item={
                **_key(instance_id, "POLL#LOCK"),
                **to_item({"owner": owner, "leaseUntil": now + lease_seconds}),
            },
            ConditionExpression="attribute_not_exists(pk) OR leaseUntil < :now OR #owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=to_item({":now": now, ":owner": owner}),
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


@tracer.capture_method(capture_response=False)
def release_lock(instance_id: int, owner: str) -> None:
    ddb = client("dynamodb")
    # If the lease ran out and another poll holds it now, it is not ours to release.
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.delete_item(
            TableName=settings().table_name,
            Key=_key(instance_id, "POLL#LOCK"),
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=to_item({":owner": owner}),
        )


@tracer.capture_method(capture_response=False)
def record_status(
    instance_id: int,
    status: dict[str, Any],
    *,
    refused: dict[str, Any] | None = None,
    let_in: bool = False,
) -> None:
    """The last poll's outcome, merged into the item so `pollingSince` and an earlier refusal stay.

    `refused` (Intercom answered 401) is kept with the time it first happened until a poll is `let_in`
    again; a poll that tells nothing about the token (busy, unavailable, skipped) leaves it as it is.
    """
    values = {name: value for name, value in status.items() if value is not None}
    names = {f"#{name}": name for name in values}
    sets = [f"#{name} = :{name}" for name in values]
    removes = [f"#{name}" for name in status if status[name] is None]
    names |= {f"#{name}": name for name in status if status[name] is None}
    if refused is not None:
        names["#refused"] = "authorizationFailure"
        sets.append("#refused = if_not_exists(#refused, :refused)")
        values["refused"] = refused
    elif let_in:
        names["#refused"] = "authorizationFailure"
        removes.append("#refused")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=_key(instance_id, "POLL#STATUS"),
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=to_item({f":{name}": value for name, value in values.items()}),
    )


@tracer.capture_method(capture_response=False)
def start_polling(instance_id: int, since: float) -> None:
    """Polling starts now (an instance created polling, or turned to polling later): no scheduled poll
    reaches behind `since`, whatever cursors an earlier polling period left."""
    client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=_key(instance_id, "POLL#STATUS"),
        UpdateExpression="SET pollingSince = :since",
        ExpressionAttributeValues=to_item({":since": since}),
    )


@tracer.capture_method(capture_response=False)
def polling_since(instance_id: int) -> float | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name,
        Key=_key(instance_id, "POLL#STATUS"),
        ConsistentRead=True,
        ProjectionExpression="pollingSince",
    )
    since = answer.get("Item", {}).get("pollingSince")
    return float(since["N"]) if since else None


@tracer.capture_method(capture_response=False)
def status(instance_id: int) -> dict[str, Any] | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name, Key=_key(instance_id, "POLL#STATUS"), ConsistentRead=True
    )
    if "Item" not in answer:
        return None
    values = from_item(answer["Item"])
    values.pop("pk", None)
    values.pop("sk", None)
    return values
