"""The last backfill of each instance: one item, INSTANCE#<id> / BACKFILL.

It holds the backfill's window (`since`, `until`: epoch seconds), the resources it reads, where each
unfinished one resumes, what it sent, and its status. Every write after the start is conditional on the
run id and `running`, so a backfill cancelled or replaced stops at its next checkpoint, with no extra read.
What one backfill sent lives beside the polls' (store.cursors, `BACKFILL#<run>#SEEN#…`).
"""

from __future__ import annotations

from typing import Any

from ..config import settings
from ..dates import utc_iso
from ..observability import tracer
from .aws import client
from .items import backfill_key, from_item, to_item


class Superseded(Exception):
    """The backfill is no longer the running one (cancelled, or replaced by a newer one): stop."""


@tracer.capture_method(capture_response=False)
def start(
    instance_id: int,
    run_id: str,
    *,
    since: float,
    until: float,
    resources: list[str],
    stale_before: float,
) -> dict[str, Any] | None:
    """Record a new running backfill; None if started, else the running one that stands in its way.

    One that has not checkpointed since `stale_before` stands in nobody's way (its schedule was lost)."""
    ddb = client("dynamodb")
    values = {
        "runId": run_id,
        "status": "running",
        "since": since,
        "until": until,
        "resources": resources,
        "finished": [],
        "events": {},
        "resume": {},
        "requestedDate": utc_iso(until),
        "updatedDate": utc_iso(until),
        "updatedAt": until,
    }
    try:
        ddb.put_item(
            TableName=settings().table_name,
            Item={**backfill_key(instance_id), **to_item(values)},
            ConditionExpression="attribute_not_exists(pk) OR #status <> :running OR updatedAt < :stale",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":running": "running", ":stale": stale_before}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ddb.exceptions.ConditionalCheckFailedException as exc:
        return from_item(exc.response.get("Item", {}))
    return None


@tracer.capture_method(capture_response=False)
def load(instance_id: int) -> dict[str, Any] | None:
    answer = client("dynamodb").get_item(
        TableName=settings().table_name, Key=backfill_key(instance_id), ConsistentRead=True
    )
    return from_item(answer["Item"]) if "Item" in answer else None


def _update(
    instance_id: int,
    run_id: str,
    now: float,
    sets: list[str],
    names: dict[str, str],
    values: dict[str, Any],
    removes: list[str],
) -> None:
    ddb = client("dynamodb")
    sets = [*sets, "updatedAt = :now", "updatedDate = :nowDate"]
    values = {**values, ":now": now, ":nowDate": utc_iso(now), ":run": run_id, ":running": "running"}
    try:
        ddb.update_item(
            TableName=settings().table_name,
            Key=backfill_key(instance_id),
            UpdateExpression="SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
            ConditionExpression="runId = :run AND #status = :running",
            ExpressionAttributeNames={**names, "#status": "status"},
            ExpressionAttributeValues=to_item(values),
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        raise Superseded(run_id) from None


@tracer.capture_method(capture_response=False)
def checkpoint(
    instance_id: int,
    run_id: str,
    resource: str,
    *,
    resume: dict[str, Any] | None,
    sent: int,
    now: float,
    finished: bool = False,
) -> None:
    """Where `resource`'s pass resumes (None: from its start) and how many it sent; `finished`: read to
    the end. Raises Superseded when the backfill was cancelled or replaced."""
    names = {"#r": resource}
    values: dict[str, Any] = {":sent": sent}
    sets = ["events.#r = :sent"]
    removes = ["reason"]  # it is moving again
    if resume is not None:
        sets.append("resume.#r = :resume")
        values[":resume"] = resume
    else:
        removes.append("resume.#r")
    if finished:
        sets.append("finished = list_append(finished, :done)")
        values[":done"] = [resource]
    _update(instance_id, run_id, now, sets, names, values, removes)


@tracer.capture_method(capture_response=False)
def note(instance_id: int, run_id: str, reason: str, now: float) -> None:
    """A running backfill waits (Intercom unavailable, out of time): say why on its record."""
    _update(instance_id, run_id, now, ["reason = :reason"], {}, {":reason": reason}, [])


@tracer.capture_method(capture_response=False)
def finish(instance_id: int, run_id: str, status: str, now: float, reason: str | None = None) -> None:
    sets = ["#status = :final", "finishedDate = :nowDate"]
    values: dict[str, Any] = {":final": status}
    removes = ["resume"]
    if reason is None:
        removes.append("reason")
    else:
        sets.append("reason = :reason")
        values[":reason"] = reason
    _update(instance_id, run_id, now, sets, {}, values, removes)


@tracer.capture_method(capture_response=False)
def cancel(instance_id: int, run_id: str, now: float, reason: str) -> None:
    finish(instance_id, run_id, "cancelled", now, reason)
