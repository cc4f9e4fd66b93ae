"""Polling state in DynamoDB: a cursor per instance and resource, what each record last sent, a lock
per instance, a status.

INSTANCE#<id> / CURSOR#<resource>        where the last complete pass ended and where an unfinished one
                                         resumes: a few hundred bytes, however many records changed
INSTANCE#<id> / SEEN#<resource>#<record> the version (updated time) last sent for that record, with a TTL
INSTANCE#<id> / POLL#LOCK                the lease that keeps two polls of one instance apart
INSTANCE#<id> / BACKFILL#LOCK            the same for backfills (one runs beside the scheduled polls)
INSTANCE#<id> / BACKFILL#<run>#SEEN#<resource>#<record>
                                         what one backfill sent, so it sends each record once
INSTANCE#<id> / POLL#STATUS              the last poll's outcome, Intercom's refusal of the token (401)
                                         until a poll is let in again, the run of failed polls since the
                                         last that made progress, and when polling started (no poll
                                         reaches back further); the instance's answer shows it as
                                         `pollerStatus`

Why one item per record sent: the versions sent used to live in one map on the cursor item, rewritten
whole at every page; about 25,000 Intercom ids changed inside one look-back window passed DynamoDB's 400 KB
item limit and stopped the instance for good. Now the state a page touches is that page's: its ids are
read with BatchGetItem (100 keys a call, consistent) and only the records it sends are written with
BatchWriteItem (25 a call), one write unit each. A change sent costs one write, plus at most one cursor
write for its page; nothing has a ceiling.

The items matter only while a later window's look-back overlaps their version, minutes after the pass
that sent them. Their TTL (`expiresAt`) is SEEN_RETENTION_SECONDS after they are written, so they still
hold when an instance that stopped polling (disabled, token refused) is polled again within that time;
one silent for longer may send the changes of the minutes before its last pass once more. Storage is one
~100-byte item per record changed in that time, deleted by TTL for free.

A cursor saved by the previous release carries its map (`seen`, compressed JSON): the poller reads it
once, writes its entries still inside the window as SEEN items, and saves the cursor without it.
"""

from __future__ import annotations

import contextlib
import json
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import settings
from ..observability import tracer
from .aws import client
from .items import (
    BACKFILL_LOCK,
    POLL_LOCK,
    backfill_scope,
    cursor_key,
    from_item,
    lock_key,
    poll_status_key,
    seen_key,
    seen_scope,
    to_item,
)

__all__ = ["BACKFILL_LOCK", "POLL_LOCK", "backfill_scope", "seen_scope"]  # the poller names them here

SEEN_RETENTION_SECONDS = 30 * 86400
BATCH_GET_KEYS = 100  # DynamoDB's limit per BatchGetItem
BATCH_WRITE_ITEMS = 25  # and per BatchWriteItem
BATCH_ATTEMPTS = 8


class UnprocessedBatch(Exception):
    """DynamoDB kept refusing part of a batch (throttled) after the retries."""


@dataclass(frozen=True)
class Resume:
    """Where an unfinished pass stopped: its window [`start`, `until`], the page cursor to read next,
    which pass over the window it was (`pass_number`), the result count its first page gave (`total`),
    and when it was saved (`saved_at`; a companies scroll is dead a minute later). Epoch seconds.

    Stored as a map with the names it has always had (`until`, `start`, `cursor`, `pass`, `total`,
    `savedAt`), on the cursor item and, per resource, on a backfill's item (store.backfills)."""

    until: float
    start: float
    cursor: str | None = None
    pass_number: int = 1
    total: int | None = None
    saved_at: float = 0.0

    @classmethod
    def from_item(cls, values: Mapping[str, Any] | None) -> Resume | None:
        """The stored map read back; None for none, or for one without its window (nothing to resume)."""
        if not values or values.get("until") is None or values.get("start") is None:
            return None
        total = values.get("total")
        return cls(
            until=float(values["until"]),
            start=float(values["start"]),
            cursor=values.get("cursor"),
            pass_number=int(values.get("pass", 1)),
            total=None if total is None else int(total),
            saved_at=float(values.get("savedAt", 0)),
        )

    def as_item(self) -> dict[str, Any]:
        return {
            "until": self.until,
            "start": self.start,
            "cursor": self.cursor,
            "pass": self.pass_number,
            "total": self.total,
            "savedAt": self.saved_at,
        }


@dataclass
class Cursor:
    """`since`: the start of the next window (the previous pass's start time, epoch seconds).
    `resume`: where an unfinished pass stopped, as stored (`Resume.as_item()`; the `resume_point`
    property reads it typed), or None. Kept as the stored map so that an operator's edit of the item
    (docs/operations.md) reads the same here.
    `legacy_seen`: the record id -> version map a cursor saved before SEEN items existed; the poller
    moves it to SEEN items once, and `save` no longer writes it."""

    since: float
    resume: dict[str, Any] | None = None
    legacy_seen: dict[str, float] = field(default_factory=dict)

    @property
    def resume_point(self) -> Resume | None:
        return Resume.from_item(self.resume)


@tracer.capture_method(capture_response=False)
def load(instance_id: int, resource: str) -> Cursor | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name, Key=cursor_key(instance_id, resource), ConsistentRead=True
    )
    if "Item" not in answer:
        return None
    values = from_item(answer["Item"])
    legacy = json.loads(zlib.decompress(values["seen"])) if values.get("seen") else {}
    return Cursor(since=float(values["since"]), resume=values.get("resume"), legacy_seen=legacy)


@tracer.capture_method(capture_response=False)
def save(instance_id: int, resource: str, cursor: Cursor) -> None:
    """The whole cursor item, replaced: the window and the resume point only (a legacy map is dropped)."""
    values: dict[str, Any] = {"since": cursor.since, "resume": cursor.resume}
    client("dynamodb").put_item(
        TableName=settings().table_name, Item={**cursor_key(instance_id, resource), **to_item(values)}
    )


@tracer.capture_method(capture_response=False)
def sent_versions(instance_id: int, scope: str, record_ids: Iterable[str]) -> dict[str, float]:
    """The version last sent of each of `record_ids` that has one (consistent reads)."""
    wanted = {json.dumps(seen_key(instance_id, scope, rid), sort_keys=True): rid for rid in record_ids}
    keys = [json.loads(k) for k in wanted]
    found: dict[str, float] = {}
    table = settings().table_name
    for start in range(0, len(keys), BATCH_GET_KEYS):
        request: dict[str, Any] = {
            table: {
                "Keys": keys[start : start + BATCH_GET_KEYS],
                "ConsistentRead": True,
                "ProjectionExpression": "pk, sk, v",
            }
        }
        for items in _batches(lambda r: _get(r, table), request):
            for item in items:
                rid = wanted[json.dumps({"pk": item["pk"], "sk": item["sk"]}, sort_keys=True)]
                found[rid] = float(item["v"]["N"])
    return found


def _get(request: dict[str, Any], table: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    answer = client("dynamodb").batch_get_item(RequestItems=request)
    return answer.get("Responses", {}).get(table, []), answer.get("UnprocessedKeys") or {}


@tracer.capture_method(capture_response=False)
def mark_sent(
    instance_id: int,
    scope: str,
    groups: list[dict[str, float]],
    now: float,
    retention: float = SEEN_RETENTION_SECONDS,
) -> None:
    """Record the version sent of each record, one small item each. `groups` (one callback's records
    each, at most BATCH_WRITE_ITEMS) are never split across calls, so a poll stopped between calls has
    recorded whole callbacks only."""
    expires = int(now + retention)
    table = settings().table_name
    batch: list[dict[str, Any]] = []
    for group in [*groups, {}]:
        if batch and (not group or len(batch) + len(group) > BATCH_WRITE_ITEMS):
            for _ in _batches(_write, {table: batch}):
                pass
            batch = []
        batch.extend(
            {"PutRequest": {"Item": _seen_item(instance_id, scope, rid, v, expires)}}
            for rid, v in group.items()
        )


def _seen_item(instance_id: int, scope: str, record_id: str, version: float, expires: int) -> dict[str, Any]:
    return {**seen_key(instance_id, scope, record_id), **to_item({"v": version, "expiresAt": expires})}


def _write(request: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    answer = client("dynamodb").batch_write_item(RequestItems=request)
    return [], answer.get("UnprocessedItems") or {}


def _batches(call: Any, request: dict[str, Any]) -> Iterable[list[dict[str, Any]]]:
    """One batch call, then its unprocessed part again with a growing pause (by hand: boto3's
    batch_writer retries without pausing and nothing in boto3 retries BatchGetItem's UnprocessedKeys)."""
    for attempt in range(BATCH_ATTEMPTS):
        items, request = call(request)
        yield items
        if not request:
            return
        time.sleep(min(0.05 * 2**attempt, 2.0))
    raise UnprocessedBatch(f"DynamoDB left part of a batch unprocessed after {BATCH_ATTEMPTS} attempts")


@tracer.capture_method(capture_response=False)
def acquire_lock(
    instance_id: int, owner: str, now: float, lease_seconds: float, lock: str = POLL_LOCK
) -> bool:
    """`lock`: POLL_LOCK for scheduled polls, BACKFILL_LOCK for a backfill, which runs beside them."""
    ddb = client("dynamodb")
    try:
        ddb.put_item(
            TableName=settings().table_name,
            Item={
                **lock_key(instance_id, lock),
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
def release_lock(instance_id: int, owner: str, lock: str = POLL_LOCK) -> None:
    ddb = client("dynamodb")
    # If the lease ran out and another poll holds it now, it is not ours to release.
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.delete_item(
            TableName=settings().table_name,
            Key=lock_key(instance_id, lock),
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues=to_item({":owner": owner}),
        )


# How an outcome moves the run of failed polls kept on POLL#STATUS: a failure lengthens it, progress
# ends it, and an outcome that tells neither (busy, skipped, unauthorized) leaves it as it is.
FAILING_OUTCOMES = frozenset({"failed", "unavailable"})
PROGRESS_OUTCOMES = frozenset({"done", "partial"})


@dataclass(frozen=True)
class FailureRun:
    """The polls in a row that failed (`consecutiveFailures`) and the date of the first (`failingSince`);
    and when Intercom's refusal on the record began (`authorizationFailure.date`), if there is one."""

    count: int = 0
    since: str | None = None
    refused_since: str | None = None


@tracer.capture_method(capture_response=False)
def record_status(
    instance_id: int,
    status: dict[str, Any],
    *,
    refused: dict[str, Any] | None = None,
    let_in: bool = False,
) -> FailureRun:
    """The last poll's outcome, merged into the item so `pollingSince` and an earlier refusal stay.

    `refused` (Intercom answered 401) is kept with the time it first happened until a poll is `let_in`
    again; a poll that tells nothing about the token (busy, unavailable, skipped) leaves it as it is.

    In the same write, the run of failures: a failed or unavailable poll adds one to
    `consecutiveFailures` and sets `failingSince` (its `lastPollDate`) unless the run has begun already;
    a done or partial poll removes both. The item as written comes back with the answer (ALL_NEW: a few
    hundred bytes, no read unit; UPDATED_NEW may leave out a `failingSince` that `if_not_exists` kept),
    so the caller learns the run without another call.
    """
    values = {name: value for name, value in status.items() if value is not None}
    names = {f"#{name}": name for name in values}
    sets = [f"#{name} = :{name}" for name in values]
    removes = [f"#{name}" for name in status if status[name] is None]
    names |= {f"#{name}": name for name in status if status[name] is None}
    add = ""
    if refused is not None:
        names["#refused"] = "authorizationFailure"
        sets.append("#refused = if_not_exists(#refused, :refused)")
        values["refused"] = refused
    elif let_in:
        names["#refused"] = "authorizationFailure"
        removes.append("#refused")
    outcome = status.get("outcome")
    if outcome in FAILING_OUTCOMES or outcome in PROGRESS_OUTCOMES:
        names |= {"#failures": "consecutiveFailures", "#failingSince": "failingSince"}
    if outcome in FAILING_OUTCOMES:
        add = " ADD #failures :one"
        sets.append("#failingSince = if_not_exists(#failingSince, :failingSince)")
        values |= {"one": 1, "failingSince": status["lastPollDate"]}
    elif outcome in PROGRESS_OUTCOMES:
        removes += ["#failures", "#failingSince"]
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "") + add
    answer = client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=poll_status_key(instance_id),
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=to_item({f":{name}": value for name, value in values.items()}),
        ReturnValues="ALL_NEW",
    )
    written = from_item(answer.get("Attributes", {}))
    refusal = written.get("authorizationFailure") or {}
    return FailureRun(
        int(written.get("consecutiveFailures", 0)), written.get("failingSince"), refusal.get("date")
    )


@tracer.capture_method(capture_response=False)
def start_polling(instance_id: int, since: float) -> None:
    """Polling starts now (an instance created polling, or turned to polling later): no scheduled poll
    reaches behind `since`, whatever cursors an earlier polling period left."""
    client("dynamodb").update_item(
        TableName=settings().table_name,
        Key=poll_status_key(instance_id),
        UpdateExpression="SET pollingSince = :since",
        ExpressionAttributeValues=to_item({":since": since}),
    )


@tracer.capture_method(capture_response=False)
def polling_since(instance_id: int) -> float | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name,
        Key=poll_status_key(instance_id),
        ConsistentRead=True,
        ProjectionExpression="pollingSince",
    )
    since = answer.get("Item", {}).get("pollingSince")
    return float(since["N"]) if since else None


@tracer.capture_method(capture_response=False)
def status(instance_id: int) -> dict[str, Any] | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name, Key=poll_status_key(instance_id), ConsistentRead=True
    )
    if "Item" not in answer:
        return None
    values = from_item(answer["Item"])
    values.pop("pk", None)
    values.pop("sk", None)
    return values
