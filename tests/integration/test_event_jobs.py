"""The job kept for replay lives on the event item (issue #13): what a delivery writes, and that a replay
still sends what the first delivery did."""

from __future__ import annotations

import json
import random
import string
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_events.models.events import CallbackJob
from intercom_events.store import deliveries
from intercom_events.store.aws import client
from intercom_events.store.queue import MAX_MESSAGE_BYTES

from tests.conftest import callback_job, http_answer, load_event
from tests.integration.conftest import enqueue

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture
def writes(aws) -> Iterator[Counter[str]]:
    """DynamoDB write calls made from here on, by operation, counted with botocore's event hooks on the
    client the project's code uses."""
    counted: Counter[str] = Counter()

    def made(model: Any, **_: Any) -> None:
        if model.name in WRITES:
            counted[model.name] += 1

    events = client("dynamodb").meta.events
    events.register("before-call.dynamodb", made)
    yield counted
    events.unregister("before-call.dynamodb", made)


def post(api, path: str) -> tuple[int, Any]:
    event = load_event("api/poll_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/elements/api-v2{path}"
    return http_answer(api, event)


def test_a_delivered_event_costs_two_dynamodb_writes(aws, instance, receiver, worker, writes):
    enqueue(aws, callback_job("notif_two_writes"))
    writes.clear()

    worker.drain()

    assert len(receiver.requests) == 1
    assert writes == Counter({"UpdateItem": 2})  # the claim, with the job, and the result


def test_a_replay_sends_the_body_the_first_delivery_sent(api, aws, instance, receiver, worker):
    item = callback_job("notif_replayed")
    enqueue(aws, item)
    worker.drain()
    assert deliveries.get(1, item["eventId"])["status"] == "delivered"

    status, _ = post(api, f"/instances/1/events/{item['eventId']}/retry")
    assert status == 202
    worker.drain()

    first, again = receiver.requests
    assert again.body == first.body and first.json()["message"]["raw"] == item["raw"]


def test_a_suspended_event_is_queued_with_its_job_in_one_write_and_a_bulk_retry_delivers_it(
    api, aws, instance, receiver, worker, writes
):
    deliveries.suspend(1, "an-earlier-event", datetime.now(UTC))
    item = callback_job("notif_suspended")
    enqueue(aws, item)
    writes.clear()

    worker.drain()

    assert receiver.requests == [] and deliveries.get(1, item["eventId"])["status"] == "queued"
    assert writes == Counter({"UpdateItem": 1})
    assert post(api, "/instances/1/events/retry")[0] == 202
    worker.drain()
    [request] = receiver.requests
    assert request.json()["message"]["eventId"] == item["eventId"]
    assert request.json()["message"]["raw"] == item["raw"]


def test_the_log_listing_does_not_carry_the_job(api, aws, instance, receiver, worker):
    item = callback_job("notif_listed")
    enqueue(aws, item)
    worker.drain()
    event = load_event("api/get_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/elements/api-v2/instances/1/events"

    status, listed = http_answer(api, event)

    assert status == 200 and [entry["eventId"] for entry in listed] == [item["eventId"]]
    assert "job" not in listed[0]
    assert deliveries.get(1, item["eventId"])["job"]  # it is on the item, only not listed


def test_an_event_with_the_largest_job_and_a_full_attempt_log_fits_in_one_item(aws):
    """A job's body is at most one SQS message (larger ones are an S3 pointer); text that does not
    compress, with the longest answer excerpts and errors in every slot of the attempt log, still
    leaves the event under DynamoDB's item limit (moto enforces it too)."""
    job = CallbackJob.model_validate(callback_job("notif_largest"))
    rng = random.Random(13)
    filler = "".join(rng.choices(string.ascii_letters + string.digits, k=MAX_MESSAGE_BYTES))
    body = json.dumps({**job.model_dump(exclude_none=True), "pad": filler})[:MAX_MESSAGE_BYTES]
    now = datetime.now(UTC)
    assert deliveries.claim(job, body, now, lease_seconds=60).outcome == "claimed"
    for number in range(1, deliveries.ATTEMPTS_KEPT + 1):
        attempt = deliveries.Attempt(
            number, "2026-11-27T10:00:00.000Z", 30_000, 503, "E" * 300, "\U0001f600" * 256
        )
        deliveries.record(job, "retrying", now, 503, "E" * 300, attempt=attempt)

    record = deliveries.get(1, job.eventId)

    assert len(record["attemptLog"]) == deliveries.ATTEMPTS_KEPT
    assert deliveries.kept_job(1, job.eventId) == body
