"""Polling at volume (SPEC §7 "Nothing lost, nothing twice"): no number of changes inside one window stops
an instance, and every poll's outcome is on the record, out of time and failures included.

The simulated workspace gives contacts Intercom-shaped ids (24-hex, random-looking), which is what made
the old single-item seen map outgrow DynamoDB's 400 KB item at ~25,000 changes a window; here 3,200 ids
change in one second, and the cursor item must stay the same few hundred bytes.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections import Counter
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from intercom_events.logic import polling
from intercom_events.store import cursors
from intercom_events.store.aws import client

from tests.integration.test_polling import iso, poll_once, take_events, versions

BULK = 3_200
CURSOR_ITEM_BYTES = 1_000  # the old item held ~12 bytes per id sent: 3,200 ids were ~40 KB


def item_bytes(aws, sk: str) -> int:
    """The stored item's size as DynamoDB counts it (attribute names and values)."""
    item = aws.client("dynamodb").get_item(
        TableName=aws.table_name, Key={"pk": {"S": "INSTANCE#1"}, "sk": {"S": sk}}
    )["Item"]
    size = 0
    for name, value in item.items():
        [(kind, content)] = value.items()
        size += len(name) + (len(repr(content)) if kind == "M" else len(str(content)))
    return size


def count_writes(aws) -> Counter[str]:
    """DynamoDB write calls and the items they wrote, counted with botocore's event hooks."""
    counted: Counter[str] = Counter()

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                counted["items"] += len(requests)
                counted["SEEN"] += sum(
                    r["PutRequest"]["Item"]["sk"]["S"].startswith("SEEN#") for r in requests
                )
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            counted["items"] += 1
            sk = (params.get("Item") or params.get("Key") or {}).get("sk", {}).get("S", "")
            counted[sk] += 1

    client("dynamodb").meta.events.register("provide-client-params.dynamodb.*", hook)
    return counted


def test_workspace_ids_are_intercom_shaped(workspace):
    contacts = workspace.seed("contacts", 50, start=int(time.time()), spacing=0)
    ids = [c["id"] for c in contacts]
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids) and len(set(ids)) == 50
    # random-looking: the eight bytes after the time share no long common prefix
    assert len({i[8:14] for i in ids}) > 40
    at = int(time.time()) + 5
    changed = workspace.bulk_update("contacts", ids[:10], at=at, name="Synced")
    assert [c["updated_at"] for c in changed] == [at] * 10
    assert all(workspace.get("contacts", i)["name"] == "Synced" for i in ids[:10])


def test_more_changes_in_one_window_than_one_item_could_hold(aws, workspace, polling_instance):
    contacts = workspace.seed("contacts", BULK, start=int(time.time()) - 86400, spacing=0)
    ids = [c["id"] for c in contacts]
    writes = count_writes(aws)

    first = workspace.bulk_update("contacts", ids, name="imported")  # one CRM sync: all in one second
    assert poll_once().outcome == "done"
    assert item_bytes(aws, "CURSOR#contacts") < CURSOR_ITEM_BYTES
    assert writes["items"] <= 2 * BULK
    time.sleep(1.05)
    again = workspace.bulk_update("contacts", ids[:500], name="synced again")  # inside the look-back
    for _ in range(3):  # overlapping windows: each re-reads what the earlier ones sent
        assert poll_once().outcome == "done"
        assert item_bytes(aws, "CURSOR#contacts") < CURSOR_ITEM_BYTES

    before = writes.copy()
    assert poll_once().outcome == "done"  # 3,200 records re-read in the look-back, none sent
    assert writes["SEEN"] == before["SEEN"]
    assert writes["CURSOR#contacts"] - before["CURSOR#contacts"] <= 2  # the pass's end, one resume point
    sent = versions(take_events(aws))
    expected = Counter(("contacts", c["id"], iso(c["updated_at"])) for c in first + again)
    assert sent == expected  # every version once
    assert writes["items"] <= 2 * (BULK + 500) + 4 * 5  # <= 2 a change, plus each quiet poll's own few

    time.sleep(1.05)
    later = workspace.create("contacts")  # nothing after the burst is stuck
    assert poll_once().outcome == "done"
    assert [e["objectId"] for e in take_events(aws)] == [later["id"]]


def test_a_poll_cut_short_by_its_time_budget_is_partial_and_the_next_finishes(
    aws, workspace, polling_instance
):
    made = workspace.seed("contacts", 600, start=int(time.time()), spacing=0.001)
    pages = 0

    def count(response: httpx.Response) -> None:
        nonlocal pages
        pages += response.request.url.path.endswith("/search")

    def time_left() -> float:  # after two pages, less than the client needs for a call, more than 20 s
        return 300.0 if pages < 2 else polling.STOP_MARGIN_SECONDS + 3

    with httpx.Client(event_hooks={"response": [count]}) as http:
        first = polling.poll(1, time_left=time_left, owner="run-1", http=http)

    assert first.outcome == "partial"
    events = take_events(aws)
    assert first.events == {"contacts": len(events)} and 0 < len(events) < 600
    status = cursors.status(1)
    assert status["outcome"] == "partial" and status["events"] == {"contacts": len(events)}
    second = poll_once()
    assert second.outcome == "done"
    events += take_events(aws)
    assert versions(events) == Counter(("contacts", c["id"], iso(c["updated_at"])) for c in made)


def refuse_writes(after: int) -> dict[str, int]:
    """DynamoDB refuses every BatchWriteItem after the first `after` (as it refused the oversized item)."""
    seen = {"calls": 0}

    def hook(**_: Any) -> Any:
        seen["calls"] += 1
        if seen["calls"] <= after:
            return None
        error = {"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the maximum"}}
        return SimpleNamespace(status_code=400, headers={}), {**error, "ResponseMetadata": {}}

    client("dynamodb").meta.events.register("before-call.dynamodb.BatchWriteItem", hook, unique_id="refuse")
    return seen


def test_a_store_write_refused_mid_poll_is_on_the_record_and_the_next_poll_recovers(
    aws, workspace, polling_instance, monkeypatch
):
    made = workspace.seed("contacts", 600, start=int(time.time()), spacing=0.001)
    recorded: list[str] = []
    add_metric = polling.metrics.add_metric
    monkeypatch.setattr(
        polling.metrics, "add_metric", lambda **kw: (recorded.append(kw["name"]), add_metric(**kw))
    )
    refuse_writes(after=9)  # the first page's 15 callbacks (8 calls) and two of the second's are recorded

    with pytest.raises(ClientError):
        poll_once()

    status = cursors.status(1)
    assert status["outcome"] == "failed" and "ClientError (ValidationException)" in status["reason"]
    assert "Item size" not in status["reason"]
    assert "PollErrors" in recorded
    assert status["events"]["contacts"] > 0
    client("dynamodb").meta.events.unregister("before-call.dynamodb.BatchWriteItem", unique_id="refuse")
    assert cursors.acquire_lock(1, "someone-else", time.time(), lease_seconds=1)  # the lock was let go
    cursors.release_lock(1, "someone-else")

    assert poll_once().outcome == "done"
    # The second page went out before all its versions were recorded: its unrecorded callbacks go out
    # again, formed as before under the same eventIds, which the dispatcher recognises.
    jobs = take_jobs(aws)
    by_id: dict[str, list[tuple[str, str]]] = {}
    for event_id, events in jobs:
        assert by_id.setdefault(event_id, events) == events  # a repeat is the same callback
    assert len(jobs) > len(by_id)  # some were repeated
    once = Counter(("contacts", o, d) for events in by_id.values() for o, d in events)
    assert once == Counter(("contacts", c["id"], iso(c["updated_at"])) for c in made)
    assert cursors.status(1)["outcome"] == "done"


def take_jobs(aws) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each callback job on the queue (taken off it): its eventId and its events' (objectId, date)."""
    sqs = aws.client("sqs")
    jobs = []
    while messages := sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            job = json.loads(message["Body"])
            jobs.append((job["eventId"], [(e["objectId"], e["date"]) for e in job["events"]]))
            sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return jobs


def test_a_cursor_saved_with_the_old_seen_map_is_honoured(aws, workspace, polling_instance):
    contacts = [workspace.create("contacts") for _ in range(20)]
    assert poll_once().outcome == "done"
    sent = take_events(aws)
    assert len(sent) == 20
    # As the previous release saved it: the versions sent in one compressed map on the cursor item.
    cursor = cursors.load(1, "contacts")
    ddb = aws.client("dynamodb")
    for c in contacts:
        ddb.delete_item(
            TableName=aws.table_name,
            Key={"pk": {"S": "INSTANCE#1"}, "sk": {"S": f"SEEN#contacts#{c['id']}"}},
        )
    seen = {c["id"]: float(c["updated_at"]) for c in contacts}
    ddb.put_item(
        TableName=aws.table_name,
        Item={
            "pk": {"S": "INSTANCE#1"},
            "sk": {"S": "CURSOR#contacts"},
            "since": {"N": str(cursor.since)},
            "seen": {"B": zlib.compress(json.dumps(seen).encode())},
        },
    )

    assert poll_once().outcome == "done"  # the window reaches back over all twenty

    assert take_events(aws) == []
    assert cursors.load(1, "contacts").legacy_seen == {}
    assert poll_once().outcome == "done" and take_events(aws) == []
