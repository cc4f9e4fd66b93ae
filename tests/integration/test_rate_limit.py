"""The per-instance rate limit (issue #12): `event.notification.rate.limit` callbacks a second, slots
reserved once per batch on the DELIVERY#PACE item, later slots waited for on the queue (SQS delay).

In process: moto, the loopback receiver, the dispatcher one batch at a time (the local stack's batches
side by side are in tests/e2e/test_rate_limit.py).

The window check: slots are exactly 1/r apart, so a closed 1-second window holds at most r + 1 of them
(both ends on a slot). A callback leaves a few milliseconds after its slot (the claim and the event-log
write come between); that lag varies by far less than a slot's width at the rates used here, so the
receiver's windows are held to r + 1 too.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from intercom_events.logic import pacing
from intercom_events.store import pacing as pace_store
from intercom_events.store.aws import client

from benchmarks.bench_rate import busiest_second
from local.queue_worker import QueueWorker, sqs_record
from tests.conftest import callback_job, http_answer, invoke, load_event
from tests.integration.conftest import enqueue
from tests.integration.test_polling import iso, poll_once

RATE_KEY = "event.notification.rate.limit"
PACE_SK = "DELIVERY#PACE"


def create_instance(api, receiver, rate: float | None, vendor: str = "polling") -> int:
    """Instance 1, polling contacts on the workspace's token, its callbacks to `receiver`."""
    event = load_event("api/create_instance_polling.json")
    body = json.loads(event["body"])
    configuration = body["configuration"]
    configuration["event.notification.callback.url"] = f"{receiver.url}/events"
    configuration["event.objects"] = "contacts"
    if rate is not None:
        configuration[RATE_KEY] = rate
    event["body"] = json.dumps(body)
    status, answer = http_answer(api, event)
    assert status == 200, answer
    created = datetime.fromisoformat(answer["createdDate"]).timestamp()
    while time.time() < created + 1.05:
        time.sleep(0.05)  # what changes from now on is newer than the instance, to Intercom's second
    return int(answer["id"])


@pytest.fixture(autouse=True)
def forget_pace() -> None:
    """Each test's instance 1 is a new one: what this process remembers of the last one goes."""
    pace_store._seen.clear()
    pacing._last_sent.clear()


def bulk_change(workspace, count: int) -> set[tuple[str, str, str]]:
    """`count` contacts changed at one instant; the versions a poll must send."""
    made = workspace.seed("contacts", count, start=int(time.time()) - 86400, spacing=0)
    changed = workspace.bulk_update("contacts", [c["id"] for c in made], name="imported")
    return {("contacts", c["id"], iso(c["updated_at"])) for c in changed}


def pace_calls(aws) -> Counter[str]:
    """UpdateItem calls on a PACE item: made, and writes that took (a refused condition writes nothing)."""
    counted: Counter[str] = Counter()

    def made(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if params.get("Key", {}).get("sk", {}).get("S") == PACE_SK:
            counted[f"{model.name} made"] += 1
            context["pace"] = True

    def answered(http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        if context.get("pace") and model.name == "UpdateItem" and http_response.status_code == 200:
            counted["written"] += 1

    events = client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.*", made)
    events.register("after-call.dynamodb.UpdateItem", answered)
    return counted


def deliver_all(worker: QueueWorker, receiver, expected: int, timeout: float = 120.0) -> int:
    """Drains the queue, deferred messages included as they come due, until `expected` callbacks
    arrived; the number of batches the dispatcher was handed."""
    deadline = time.monotonic() + timeout
    batches = 0
    while len(receiver.requests) < expected and time.monotonic() < deadline:
        result = worker.drain_once(wait_seconds=0)
        if result.message_ids:
            batches += 1
        else:
            time.sleep(0.05)
    time.sleep(0.3)
    assert len(receiver.requests) == expected, f"{len(receiver.requests)} of {expected} callbacks"
    return batches


def delivered(receiver) -> Counter[tuple[str, str, str]]:
    return Counter(
        (e["objectType"], e["objectId"], e["date"])
        for r in receiver.requests
        for e in r.json()["message"]["events"]
    )


# ---- the limit holds, nothing lost ---------------------------------------------------------------------


def test_a_poll_of_2000_changes_reaches_a_receiver_limited_to_20_a_second_at_20_a_second(
    aws, api, dispatcher, workspace, receiver, worker
):
    create_instance(api, receiver, 20)
    expected = bulk_change(workspace, 2000)
    assert poll_once().outcome == "done"

    deliver_all(worker, receiver, 200)

    assert delivered(receiver) == Counter(expected)  # every change once
    times = [r.received_at for r in receiver.requests]
    print(f"busiest second: {busiest_second(times)} callbacks; span {max(times) - min(times):.1f} s")
    assert busiest_second(times) <= 20 + 1
    assert max(times) - min(times) >= (200 - 20) / 20


def test_the_pace_item_takes_one_write_per_batch_not_one_per_callback(
    aws, api, dispatcher, workspace, receiver, worker
):
    create_instance(api, receiver, 50)
    bulk_change(workspace, 600)
    assert poll_once().outcome == "done"
    calls = pace_calls(aws)

    batches = deliver_all(worker, receiver, 60)

    assert batches >= 6
    assert 1 <= calls["written"] <= batches  # one per callback would be 60
    # A wrong guess between the two conditional writes costs one refused call more, at most.
    assert calls["UpdateItem made"] <= 2 * calls["written"]
    assert set(calls) == {"UpdateItem made", "written"}  # nothing reads it


# ---- deferral: a new message, the slot kept, no try spent ----------------------------------------------


@pytest.fixture
def limited(api, receiver) -> int:
    """Instance 1 (polling; jobs enqueued by hand), one callback a second."""
    return create_instance(api, receiver, 1)


def jobs(count: int) -> list[dict[str, Any]]:
    return [callback_job(f"deferral-{n}", object_id=f"c{n}") for n in range(count)]


def sent_messages(aws) -> list[dict[str, Any]]:
    """Every SendMessage the code under test makes from now on, as its parameters."""
    sent: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "SendMessage":
            sent.append(dict(params))

    client("sqs").meta.events.register("provide-client-params.sqs.SendMessage", hook)
    return sent


def one_batch(aws, dispatcher) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every visible message, up to ten, handed to the dispatcher as one batch; those it did are deleted."""
    sqs = aws.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    records = [sqs_record(m, queue_arn=aws.queue_arn, region="us-east-1") for m in messages]
    answer: dict[str, Any] = invoke(dispatcher, {"Records": records}, "dispatcher")
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return answer, messages


def wait_visible(aws, count: int, timeout: float = 15.0) -> None:
    sqs = aws.client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])["Attributes"]
        if int(attributes["ApproximateNumberOfMessages"]) >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"fewer than {count} messages visible")


def event_record(aws, event_id: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb").get_item(
        TableName=aws.table_name, Key={"pk": {"S": "INSTANCE#1"}, "sk": {"S": f"EVENT#{event_id}"}}
    )
    return item.get("Item")


def test_a_slot_beyond_a_second_is_waited_for_as_a_new_message_without_spending_a_try(
    aws, dispatcher, limited, receiver
):
    batch = jobs(5)
    enqueue(aws, *batch)
    sent = sent_messages(aws)

    before = time.time()
    answer, _ = one_batch(aws, dispatcher)
    after = time.time()

    assert answer == {"batchItemFailures": []}  # the deferred ones are done: re-sent
    # One slot a second from now: those within HOLD_SECONDS were waited for and sent, the rest re-sent.
    assert len(sent) >= 1
    assert len(receiver.requests) + len(sent) == len(batch)
    slots = [float(m["MessageAttributes"]["notBefore"]["StringValue"]) for m in sent]
    assert [b - a for a, b in itertools.pairwise(sorted(slots))] == pytest.approx([1.0] * (len(slots) - 1))
    for message, slot in zip(sent, slots, strict=True):
        assert slot - before > pacing.HOLD_SECONDS  # beyond the hold when its record was planned
        # Back a second or two before its slot, as planned at some moment of the batch.
        lowest = math.floor(slot - after - pacing.LEAD_SECONDS)
        assert lowest <= message["DelaySeconds"] <= math.floor(slot - before - pacing.LEAD_SECONDS)
    assert all(m["MessageGroupId"] == "1" for m in sent)
    assert all("attempt" not in m["MessageAttributes"] for m in sent)  # first tries
    deferred = [json.loads(m["MessageBody"])["eventId"] for m in sent]
    assert all(event_record(aws, e) is None for e in deferred)  # not dialled, nothing on the record

    wait_visible(aws, len(sent))
    answer, messages = one_batch(aws, dispatcher)
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in messages} == {"1"}  # new messages
    assert answer == {"batchItemFailures": []}
    arrivals = {r.json()["message"]["eventId"]: r.received_at for r in receiver.requests}
    assert set(arrivals) == {j["eventId"] for j in batch}
    for event_id, slot in zip(deferred, slots, strict=True):
        assert arrivals[event_id] >= slot  # never early
        assert event_record(aws, event_id)["attempts"]["N"] == "1"  # one try, the deferral none
    assert len(sent) == len(deferred)  # held their slots: no new reservation, no new deferral


def test_a_slot_beyond_sqs_longest_delay_is_re_sent_again_not_delivered_early(
    aws, dispatcher, limited, receiver
):
    [job] = jobs(1)
    slot = time.time() + 1000.25
    aws.client("sqs").send_message(
        QueueUrl=aws.queue_url,
        MessageBody=json.dumps(job),
        MessageAttributes={"notBefore": {"DataType": "Number", "StringValue": f"{slot:.6f}"}},
    )
    sent = sent_messages(aws)
    calls = pace_calls(aws)

    assert one_batch(aws, dispatcher)[0] == {"batchItemFailures": []}

    assert receiver.requests == []
    [again] = sent
    assert again["DelaySeconds"] == 900
    assert float(again["MessageAttributes"]["notBefore"]["StringValue"]) == pytest.approx(slot, abs=1e-6)
    assert calls == Counter()  # it held its slot: no reservation
    assert event_record(aws, job["eventId"]) is None


def test_a_retry_of_a_rate_limited_instance_waits_for_a_slot_and_keeps_its_attempt_number(
    aws, dispatcher, api, receiver
):
    create_instance(api, receiver, 0.25)  # one callback every four seconds
    receiver.respond_with([500, 200])
    [job] = jobs(1)
    enqueue(aws, job)
    sent = sent_messages(aws)

    answer, [first] = one_batch(aws, dispatcher)  # slot now: sent, answered 500
    assert len(answer["batchItemFailures"]) == 1
    aws.client("sqs").change_message_visibility(
        QueueUrl=aws.queue_url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )  # the schedule's backoff skipped
    answer, [retry] = one_batch(aws, dispatcher)  # the retry's slot is four seconds after the first
    assert retry["Attributes"]["ApproximateReceiveCount"] == "2"
    assert answer == {"batchItemFailures": []}
    [deferred] = sent
    slot = float(deferred["MessageAttributes"]["notBefore"]["StringValue"])
    # Four seconds after the first try's slot, which was taken before that try went out.
    assert slot > receiver.requests[0].received_at + 3.5
    assert deferred["MessageAttributes"]["attempt"]["StringValue"] == "2"
    assert len(receiver.requests) == 1

    wait_visible(aws, 1)
    assert one_batch(aws, dispatcher)[0] == {"batchItemFailures": []}
    [_, second] = receiver.requests
    assert second.received_at >= slot
    record = event_record(aws, job["eventId"])
    assert record["status"]["S"] == "delivered"
    assert record["attempts"]["N"] == "2"


# ---- configuration -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, 1000.5, "fast", True])
def test_a_bad_rate_limit_is_a_400_naming_the_key(api, receiver, instance, value):
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {RATE_KEY: value}})
    status, body = http_answer(api, patch)
    assert status == 400, body
    assert [e["field"] for e in body["errors"]] == [f"configuration.{RATE_KEY}"]


def test_a_rate_limit_is_kept_and_answered_and_null_removes_it(api, receiver, instance):
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {RATE_KEY: 0.5}})
    status, body = http_answer(api, patch)
    assert status == 200, body
    assert body["configuration"][RATE_KEY] == 0.5
    patch["body"] = json.dumps({"configuration": {RATE_KEY: None}})
    status, body = http_answer(api, patch)
    assert status == 200, body
    assert body["configuration"].get(RATE_KEY) is None


def test_an_instance_without_a_limit_makes_no_pace_call(aws, dispatcher, instance, receiver):
    calls = pace_calls(aws)
    enqueue(aws, *jobs(5))
    assert one_batch(aws, dispatcher)[0] == {"batchItemFailures": []}
    assert len(receiver.requests) == 5
    assert calls == Counter()


# ---- fair queues ---------------------------------------------------------------------------------------


def test_job_messages_carry_the_instance_as_their_message_group(aws, api, workspace, receiver, instance):
    # Instance 1 (webhooks, from the `instance` fixture); a polling instance 2 beside it.
    assert http_answer(api, load_event("api/create_instance_polling.json"))[0] == 200
    time.sleep(1.05)
    workspace.create("contacts")
    assert poll_once_for(2).outcome == "done"  # queue.send
    from intercom_events.store import queue

    queue.send_bodies([json.dumps(callback_job("replayed"))], 1)  # a replay's path

    messages = aws.client("sqs").receive_message(
        QueueUrl=aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    groups = {json.loads(m["Body"])["instanceId"]: m["Attributes"].get("MessageGroupId") for m in messages}
    assert groups == {1: "1", 2: "2"}


def poll_once_for(instance_id: int) -> Any:
    from intercom_events.logic import polling

    return polling.poll(instance_id, time_left=lambda: 300.0, owner="test")
