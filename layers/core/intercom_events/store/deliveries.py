"""The event log: each event's delivery record, its job for replay, and the instance's delivery state.

  INSTANCE#<id> / EVENT#<eventId>   status, attempts, last answer, dates, attempt log, and `job`: the
                                    callback job as the queue first carried it, for replay (zlib, Binary)
                                    (kept 30 days: TTL)
  INSTANCE#<id> / JOB#<eventId>     the job of an event logged before jobs went on the event (legacy,
                                    read only; gone with the TTL 30 days after that change)
  INSTANCE#<id> / DELIVERY#STATE    suspended after an event failed for good; lifted by a bulk retry;
                                    also the circuit breaker's run and state (store.breaker)

A delivered event costs two writes: the claim, which also keeps the job (`if_not_exists`, so the job
first claimed stays, whatever a replay or a retry sends), and the record of the result. An event queued
without an attempt (deliveries suspended, the circuit breaker open) keeps its job in that one write.

A delivery is claimed before the callback is sent: the conditional write refuses an event already
delivered (a resent notification, a redelivered message) or cancelled, and one another worker is
sending now (the lease), so two copies of one job never both reach the receiver.

Each attempt goes on the event in the write that records its result, no call of its own: `attemptLog`
is a map of `ATTEMPTS_KEPT` slots, the attempt numbered n in slot n mod ATTEMPTS_KEPT, so it holds the
last attempts and no more (DynamoDB can append to a list but not trim one in the same write). The claim
creates the empty map, since one write cannot both create a map and set a key in it.

Two indexes list the log: `byTime` (every event of an instance, newest first) and the sparse
`byStatus`, which holds only failed and queued events, so a bulk retry reads just those.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Literal, get_args

from ..config import settings
from ..dates import utc_iso
from ..models.events import CallbackJob, DeliveryStatus
from ..observability import tracer
from .aws import client
from .items import (
    delivery_state_key,
    event_key,
    event_log_partition,
    from_item,
    job_key,
    replay_partition,
    to_item,
)

LOG_DAYS = 30
# The job goes on the event compressed: byTime projects ALL, so every write of the event (claim, record)
# writes the job to the index too, a write unit per KB of the item on each. Compressed, the sample job
# (events/dispatcher/batch.json: 928 bytes, 487 zlib'd) leaves a delivered event at 948 bytes: 4 write
# units (claim and record, table and index), where the event and a JOB# item took 5; a job larger by a
# compressed KB adds 4. Its size is bounded: a body over queue.MAX_MESSAGE_BYTES is an S3 pointer, so an
# event with its job and a full attempt log stays under DynamoDB's 400 KB item limit.
JOB_ATTRIBUTE = "job"
# Attempts kept on an event: the nine scheduled tries and a few replays; older ones give way.
ATTEMPTS_KEPT = 20
Status = DeliveryStatus
STATUSES: tuple[Status, ...] = get_args(DeliveryStatus)
# Statuses an operator's bulk retry picks up; only these carry the sparse index's keys.
REPLAYABLE = ("failed", "queued")
_PUBLIC = (
    "eventId",
    "status",
    "attempts",
    "source",
    "objectTypes",
    "lastResponseCode",
    "lastError",
    "createdDate",
    "updatedDate",
    "deliveredDate",
)


@dataclass(frozen=True)
class Claim:
    outcome: Literal["claimed", "done", "busy"]
    status: str = "pending"
    attempts: int = 0
    busy_seconds: int = 0


@dataclass(frozen=True)
class Attempt:
    """One try at the callback, as the event's `attemptLog` keeps it. Nothing of what was sent: the
    callback's headers hold the instance's secrets."""

    number: int  # the event's attempts count when it was made: 1, 2, ... across replays too
    date: str
    duration_ms: int
    response_code: int | None = None
    error: str | None = None
    response_body: str | None = None  # the answer's first characters, any secret we sent taken out

    def item(self) -> dict[str, Any]:
        fields = {
            "attempt": self.number,
            "date": self.date,
            "durationMs": self.duration_ms,
            "responseCode": self.response_code,
            "error": self.error,
            "responseBody": self.response_body,
        }
        return {name: value for name, value in fields.items() if value is not None}


def _expires(now: datetime) -> int:
    return int((now + timedelta(days=LOG_DAYS)).timestamp())


@tracer.capture_method(capture_response=False)
def claim(job: CallbackJob, message_body: str, now: datetime, lease_seconds: int) -> Claim:
    """Take the event for one attempt, and keep its job on it (`message_body`, as the queue carried it).

    The job goes with every claim, kept only if the event has none yet: the claim cannot know it is the
    first before it runs, and an event may exist without a job (its first try failed before its claim).
    Sent again it costs request bytes only: a write's units count the item's size, the same either way."""
    ddb = client("dynamodb")
    try:
        answer = ddb.update_item(
            TableName=settings().table_name,
            Key=event_key(job.instanceId, job.eventId),
            UpdateExpression=(
                "SET #status = if_not_exists(#status, :pending), leaseUntil = :lease, updatedDate = :now, "
                "createdDate = if_not_exists(createdDate, :now), eventId = :eventId, #source = :source, "
                "objectTypes = :types, expiresAt = :expires, gsi2pk = :events, "
                "gsi2sk = if_not_exists(gsi2sk, :order), "
                "attemptLog = if_not_exists(attemptLog, :noAttempts), #job = if_not_exists(#job, :job) "
                "ADD attempts :one"
            ),
            ConditionExpression=(
                "attribute_not_exists(pk) OR (#status <> :delivered AND #status <> :cancelled "
                "AND (attribute_not_exists(leaseUntil) OR leaseUntil < :epoch))"
            ),
            ExpressionAttributeNames={"#status": "status", "#source": "source", "#job": JOB_ATTRIBUTE},
            ExpressionAttributeValues=to_item(
                {
                    ":pending": "pending",
                    ":delivered": "delivered",
                    ":cancelled": "cancelled",
                    ":lease": int(now.timestamp()) + lease_seconds,
                    ":epoch": int(now.timestamp()),
                    ":now": utc_iso(now),
                    ":eventId": job.eventId,
                    ":source": job.source,
                    ":types": sorted({e.objectType for e in job.events}),
                    ":expires": _expires(now),
                    ":events": event_log_partition(job.instanceId),
                    ":order": f"{job.enqueuedAt}#{job.eventId}",
                    ":one": 1,
                    ":noAttempts": {},
                    ":job": _packed(message_body),
                }
            ),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ddb.exceptions.ConditionalCheckFailedException as exc:
        old = from_item(exc.response.get("Item", {}))
        if old.get("status") in ("delivered", "cancelled"):
            return Claim("done", status=old["status"], attempts=old.get("attempts", 0))
        return Claim("busy", busy_seconds=max(1, int(old.get("leaseUntil", 0)) - int(now.timestamp())))
    return Claim("claimed", attempts=int(answer["Attributes"]["attempts"]["N"]))


@tracer.capture_method(capture_response=False)
def record(
    job: CallbackJob,
    status: Status,
    now: datetime,
    response_code: int | None = None,
    error: str | None = None,
    attempt: Attempt | None = None,
    *,
    message_body: str | None = None,
) -> None:
    """The event's status; with `attempt`, the try that led to it, kept in the same write. Only a
    claimed event takes an attempt (the claim made its `attemptLog`). With `message_body`, the job is
    kept on the event unless it has one (an event queued without a claim, for its later replay)."""
    record_status(
        job.instanceId,
        job.eventId,
        status,
        now,
        response_code,
        error,
        order=job.enqueuedAt,
        source=job.source,
        object_types=sorted({e.objectType for e in job.events}),
        attempt=attempt,
        message_body=message_body,
    )


def record_status(
    instance_id: int,
    event_id: str,
    status: Status,
    now: datetime,
    response_code: int | None = None,
    error: str | None = None,
    order: str | None = None,
    source: str | None = None,
    object_types: list[str] | None = None,
    attempt: Attempt | None = None,
    message_body: str | None = None,
) -> None:
    """Set an event's status. Whatever the status, the entry carries the same fields as a claimed one
    (its log keys, dates, `attempts`, and `source` and `objectTypes` when the job is known), so an event
    never attempted (queued, cancelled, or failed before its first try) lists like any other."""
    values: dict[str, Any] = {
        ":status": status,
        ":now": utc_iso(now),
        ":events": event_log_partition(instance_id),
        ":order": f"{order or utc_iso(now)}#{event_id}",
        ":expires": _expires(now),
        ":eventId": event_id,
        ":zero": 0,
    }
    sets = [
        "#status = :status",
        "updatedDate = :now",
        "gsi2pk = :events",
        "gsi2sk = if_not_exists(gsi2sk, :order)",
        "eventId = :eventId",
        "createdDate = if_not_exists(createdDate, :now)",
        "expiresAt = if_not_exists(expiresAt, :expires)",
        "attempts = if_not_exists(attempts, :zero)",
    ]
    names = {"#status": "status"}
    if source is not None:
        values[":source"] = source
        names["#source"] = "source"
        sets.append("#source = if_not_exists(#source, :source)")
    if object_types is not None:
        values[":types"] = object_types
        sets.append("objectTypes = if_not_exists(objectTypes, :types)")
    if message_body is not None:
        values[":job"] = _packed(message_body)
        names["#job"] = JOB_ATTRIBUTE
        sets.append("#job = if_not_exists(#job, :job)")
    if attempt is not None:
        values[":attempt"] = attempt.item()
        names["#slot"] = str(attempt.number % ATTEMPTS_KEPT)
        sets.append("attemptLog.#slot = :attempt")
    removes = ["leaseUntil"]
    for name, value in (("lastResponseCode", response_code), ("lastError", error)):
        if value is None:
            removes.append(name)
        else:
            values[f":{name}"] = value
            sets.append(f"{name} = :{name}")
    if status == "delivered":
        sets.append("deliveredDate = :now")
    if status in REPLAYABLE:  # into the sparse index a bulk retry reads
        values[":replay"] = replay_partition(instance_id)
        values[":replayOrder"] = f"{order or utc_iso(now)}#{event_id}"
        sets += ["gsi3pk = :replay", "gsi3sk = if_not_exists(gsi3sk, :replayOrder)"]
    else:
        removes += ["gsi3pk", "gsi3sk"]
    request: dict[str, Any] = {
        "TableName": settings().table_name,
        "Key": event_key(instance_id, event_id),
        "UpdateExpression": f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
        "ExpressionAttributeNames": names,
    }
    ddb = client("dynamodb")
    if status == "cancelled":
        # A late copy of a job, or a delete, never rewrites an event that did reach the receiver.
        values[":delivered"] = "delivered"
        request["ConditionExpression"] = "attribute_not_exists(#status) OR #status <> :delivered"
    request["ExpressionAttributeValues"] = to_item(values)
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(**request)


@tracer.capture_method(capture_response=False)
def get(instance_id: int, event_id: str) -> dict[str, Any] | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name, Key=event_key(instance_id, event_id)
    )
    return from_item(answer["Item"]) if "Item" in answer else None


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in _PUBLIC if record.get(name) is not None}


def attempt_log(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The event's kept attempts, oldest first."""
    return sorted((record.get("attemptLog") or {}).values(), key=lambda entry: int(entry["attempt"]))


# ---- jobs kept for replay -------------------------------------------------------------------------------


def _packed(message_body: str) -> bytes:
    return zlib.compress(message_body.encode())


def _job_of(record: dict[str, Any]) -> str | None:
    """The job kept on an event's record (as `get` reads it), as the queue carried it."""
    packed = record.get(JOB_ATTRIBUTE)
    return zlib.decompress(packed).decode() if isinstance(packed, bytes) else None


@tracer.capture_method(capture_response=False)
def kept_job(instance_id: int, event_id: str, record: dict[str, Any] | None = None) -> str | None:
    """The event's job as the queue carried it (a pointer when its body lives in S3), for a replay; None
    when none is kept. `record`: the event as already read, which spares reading it again."""
    if record is None:
        answer = client("dynamodb").get_item(
            TableName=settings().table_name,
            Key=event_key(instance_id, event_id),
            ProjectionExpression="#job",
            ExpressionAttributeNames={"#job": JOB_ATTRIBUTE},
        )
        record = from_item(answer.get("Item", {}))
    body = _job_of(record)
    return body if body is not None else _legacy_job(instance_id, event_id)


def _legacy_job(instance_id: int, event_id: str) -> str | None:
    """The JOB# item an event logged before its job went on the event has instead. Once the TTL has
    taken those (LOG_DAYS after the change), this read finds nothing and can go."""
    answer = client("dynamodb").get_item(TableName=settings().table_name, Key=job_key(instance_id, event_id))
    return str(answer["Item"]["body"]["S"]) if "Item" in answer else None


# ---- listing --------------------------------------------------------------------------------------------


class InvalidPageToken(ValueError):
    """A nextPage that this query did not give out."""


_PAGE_KEY = ("pk", "sk", "gsi2pk", "gsi2sk")  # byTime's LastEvaluatedKey: the table's key and the index's
_KEY_MAX_BYTES = 1024  # DynamoDB's limit on a sort key (a partition key takes 2048)


def _encode(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _decode(token: str | None, instance_id: int, lower: str, upper: str) -> dict[str, Any] | None:
    """The start key a page token carries, if it is one this query can have given out: a byTime key of
    this instance's events, within the dates asked. Anything else (garbled, forged, another instance's,
    a page of other dates) would make DynamoDB refuse the query or start in another partition."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidPageToken("nextPage is not a page token this API gave out") from None
    if not isinstance(key, dict) or sorted(key) != sorted(_PAGE_KEY):
        raise InvalidPageToken("nextPage is not a page token this API gave out")
    pk, sk, gsi2pk, gsi2sk = (_key_string(key[name]) for name in _PAGE_KEY)
    if pk is None or sk is None or gsi2pk is None or gsi2sk is None:
        raise InvalidPageToken("nextPage is not a page token this API gave out")
    if (
        pk != event_key(instance_id, "")["pk"]["S"]
        or gsi2pk != event_log_partition(instance_id)
        or not sk.startswith("EVENT#")
    ):
        raise InvalidPageToken("nextPage is a page token of another instance")
    if not lower <= gsi2sk <= upper:
        raise InvalidPageToken("nextPage is a page token of other dates: ask for the first page again")
    return key


def _key_string(attribute: Any) -> str | None:
    """The string of a `{"S": ...}` key attribute, if DynamoDB can take it back as one of our keys."""
    if not isinstance(attribute, dict) or list(attribute) != ["S"]:
        return None
    value = attribute["S"]
    return value if isinstance(value, str) and value.isascii() and 0 < len(value) <= _KEY_MAX_BYTES else None


@tracer.capture_method(capture_response=False)
def list_events(
    instance_id: int,
    *,
    status: str | None,
    since: str | None,
    until: str | None,
    page_size: int,
    next_page: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; `since`/`until` are ISO dates on the event's first delivery attempt. A nextPage
    that is not this query's is an InvalidPageToken."""
    lower, upper = since or "", (until + "~" if until else "~")  # '~' sorts after '#<eventId>' and digits
    start = _decode(next_page, instance_id, lower, upper)
    if lower > upper:
        return [], None  # DynamoDB refuses a BETWEEN whose bounds are reversed: nothing is in it
    condition = "gsi2pk = :events"
    values: dict[str, Any] = {":events": event_log_partition(instance_id)}
    if since and until:
        condition += " AND gsi2sk BETWEEN :from AND :to"
        values[":from"], values[":to"] = lower, upper
    elif since:  # each bound alone: DynamoDB takes no empty string as a key value
        condition += " AND gsi2sk >= :from"
        values[":from"] = lower
    elif until:
        condition += " AND gsi2sk <= :to"
        values[":to"] = upper
    request: dict[str, Any] = {
        "TableName": settings().table_name,
        "IndexName": "byTime",
        "KeyConditionExpression": condition,
        "ScanIndexForward": False,
        "Limit": page_size,
        # The entries' fields only: an event's attempt log is the larger part of it, and not listed.
        "ProjectionExpression": ", ".join(f"#{name}" for name in _PUBLIC),
        "ExpressionAttributeNames": {f"#{name}": name for name in _PUBLIC},
    }
    if status:
        request["FilterExpression"] = "#status = :status"
        values[":status"] = status
    request["ExpressionAttributeValues"] = to_item(values)
    if start:
        request["ExclusiveStartKey"] = start
    answer = client("dynamodb").query(**request)
    return [public(from_item(item)) for item in answer["Items"]], _encode(answer.get("LastEvaluatedKey"))


def _event_ids(**query: Any) -> Iterator[str]:
    """Every page of an index query, as event ids (every index carries the table's sort key)."""
    pages = (
        client("dynamodb")
        .get_paginator("query")
        .paginate(TableName=settings().table_name, ProjectionExpression="sk", **query)
    )
    for page in pages:
        for item in page["Items"]:
            yield str(item["sk"]["S"]).removeprefix("EVENT#")


def replayable(instance_id: int) -> Iterator[str]:
    """The ids of the instance's failed and queued events, oldest first (the sparse index)."""
    return _event_ids(
        IndexName="byStatus",
        KeyConditionExpression="gsi3pk = :replay",
        ExpressionAttributeValues={":replay": {"S": replay_partition(instance_id)}},
    )


def parked(instance_id: int) -> Iterator[str]:
    """The ids of the instance's queued events (held by a suspension or the circuit breaker), oldest
    first. byStatus projects its keys only, so the statuses are read from the table, 100 at a time."""
    ids = replayable(instance_id)
    while chunk := list(islice(ids, _BATCH_GET_MAX)):
        statuses = _statuses(instance_id, chunk)
        yield from (event_id for event_id in chunk if statuses.get(event_id) == "queued")


_BATCH_GET_MAX = 100  # keys per BatchGetItem


def _statuses(instance_id: int, event_ids: list[str]) -> dict[str, str]:
    ddb = client("dynamodb")
    table = settings().table_name
    request: dict[str, Any] = {
        table: {
            "Keys": [event_key(instance_id, event_id) for event_id in event_ids],
            "ProjectionExpression": "sk, #status",
            "ExpressionAttributeNames": {"#status": "status"},
        }
    }
    found: dict[str, str] = {}
    while request:
        answer = ddb.batch_get_item(RequestItems=request)
        for item in answer["Responses"].get(table, []):
            found[str(item["sk"]["S"]).removeprefix("EVENT#")] = str(item.get("status", {}).get("S", ""))
        request = answer.get("UnprocessedKeys") or {}
    return found


def undelivered(instance_id: int) -> Iterator[str]:
    """Every event of the instance not delivered or cancelled yet (for cancelling on delete)."""
    return _event_ids(
        IndexName="byTime",
        KeyConditionExpression="gsi2pk = :events",
        FilterExpression="NOT #status IN (:delivered, :cancelled)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=to_item(
            {
                ":events": event_log_partition(instance_id),
                ":delivered": "delivered",
                ":cancelled": "cancelled",
            }
        ),
    )


# ---- the instance's delivery state ---------------------------------------------------------------------


@tracer.capture_method(capture_response=False)
def state(instance_id: int) -> dict[str, Any]:
    answer = client("dynamodb").get_item(TableName=settings().table_name, Key=delivery_state_key(instance_id))
    return from_item(answer["Item"]) if "Item" in answer else {}


@tracer.capture_method(capture_response=False)
def suspend(instance_id: int, event_id: str, now: datetime) -> bool:
    """Suspend the instance's deliveries; False when they were already (the first failed event stays
    on the record), so that several events spending their last try together suspend it once."""
    ddb = client("dynamodb")
    try:
        # An update, not a put: the item may already hold the circuit breaker's run (store.breaker).
        ddb.update_item(
            TableName=settings().table_name,
            Key=delivery_state_key(instance_id),
            UpdateExpression="SET suspended = :true, suspendedDate = :now, failedEventId = :event",
            ConditionExpression="attribute_not_exists(suspended)",
            ExpressionAttributeValues=to_item({":true": True, ":now": utc_iso(now), ":event": event_id}),
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


@tracer.capture_method(capture_response=False)
def resume(instance_id: int) -> None:
    client("dynamodb").delete_item(TableName=settings().table_name, Key=delivery_state_key(instance_id))
