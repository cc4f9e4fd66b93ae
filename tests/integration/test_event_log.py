"""Delivery you can trust (issue #4): the event log, replay, suspension, 410, cancellation, big bodies.

Time is simulated with SQS itself: each attempt is a real receive of the message (so its receive count
is the attempt number), and instead of waiting out the backoff the test makes the message visible again.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_events.intercom.signature import hub_signature
from intercom_events.logic.jobs import make_jobs
from intercom_events.models.events import EventType, NormalizedEvent
from intercom_events.store import deliveries

from local.queue_worker import QueueWorker, sqs_record
from tests.conftest import http_answer, invoke, load_event


@pytest.fixture
def instance(api, receiver) -> dict[str, Any]:
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {"event.notification.callback.url": f"{receiver.url}/cb"}})
    status, body = http_answer(api, patch)
    assert status == 200
    return body


@pytest.fixture
def worker(dispatcher, aws) -> QueueWorker:
    return QueueWorker(dispatcher.lambda_handler, aws.queue_url, endpoint_url=None, wait_seconds=0)  # type: ignore[arg-type]


def job(name: str) -> dict[str, Any]:
    event = NormalizedEvent(
        date="2026-11-27T10:00:00Z", eventType=EventType.UPDATED, objectId=name, objectType="contacts"
    )
    raw = {"type": "notification_event", "id": name, "topic": "contact.user.updated"}
    [made] = make_jobs(1, "webhook", name, raw, [event], datetime.now(UTC), name)
    return json.loads(made.model_dump_json(exclude_none=True))


def enqueue(aws, *jobs: dict[str, Any]) -> None:
    for item in jobs:
        aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(item))


def attempt(aws, dispatcher) -> dict[str, Any]:
    """One delivery attempt, then the backoff skipped: the message is made visible again at once."""
    sqs = aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=aws.queue_url, AttributeNames=["All"])["Messages"]
    record = sqs_record(message, queue_arn=aws.queue_arn, region="us-east-1")
    answer: dict[str, Any] = invoke(dispatcher, {"Records": [record]}, "dispatcher")
    if answer["batchItemFailures"]:
        sqs.change_message_visibility(
            QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    else:
        sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return answer


def log(api, status: str | None = None) -> list[dict[str, Any]]:
    event = load_event("api/get_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/elements/api-v2/instances/1/events"
    if status:
        event["queryStringParameters"] = {"status": status}
        event["rawQueryString"] = f"status={status}"
    code, body = http_answer(api, event)
    assert code == 200, body
    return body


def post(api, path: str) -> tuple[int, Any]:
    event = load_event("api/poll_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/elements/api-v2{path}"
    return http_answer(api, event)


def test_a_receiver_down_through_the_whole_schedule_then_one_bulk_retry_delivers_everything_once(
    api, aws, dispatcher, receiver, instance, worker
):
    receiver.respond_always(500)
    first = job("first")
    enqueue(aws, first)
    for _ in range(9):  # the first try and eight retries, time skipped
        assert attempt(aws, dispatcher)["batchItemFailures"]
    assert deliveries.get(1, first["eventId"])["status"] == "failed"
    assert (
        aws.client("sqs").receive_message(QueueUrl=aws.queue_url).get("Messages") is None
    )  # moved to the DLQ

    later = [job("second"), job("third")]
    enqueue(aws, *later)
    worker.drain()
    assert len(receiver.requests) == 9  # the later events were kept, not attempted
    assert {e["eventId"]: e["status"] for e in log(api)} == {
        first["eventId"]: "failed",
        later[0]["eventId"]: "queued",
        later[1]["eventId"]: "queued",
    }

    receiver.respond_always(200)
    status, body = post(api, "/instances/1/events/retry")
    assert status == 202 and body == {"instanceId": 1, "retried": 3, "resumed": True}
    worker.drain()

    delivered = [r.header("webhook-id") for r in receiver.requests[9:]]
    assert sorted(delivered) == sorted([first["eventId"], later[0]["eventId"], later[1]["eventId"]])
    assert {e["status"] for e in log(api)} == {"delivered"}
    # The dead-letter copy, redriven later, is recognised and not delivered a second time.
    [dead] = aws.client("sqs").receive_message(QueueUrl=aws.dlq_url)["Messages"]
    enqueue(aws, json.loads(dead["Body"]))
    worker.drain()
    assert len(receiver.requests) == 12


def test_retrying_one_event_redelivers_it_with_the_same_id(api, aws, receiver, instance, worker):
    item = job("once-more")
    enqueue(aws, item)
    worker.drain()
    status, body = post(api, f"/instances/1/events/{item['eventId']}/retry")
    assert status == 202 and body["status"] == "pending"
    worker.drain()
    assert [r.header("webhook-id") for r in receiver.requests] == [item["eventId"]] * 2


def test_retrying_an_unknown_event_is_404(api, aws, instance):
    assert post(api, "/instances/1/events/no-such-event/retry")[0] == 404


def test_a_receiver_answering_410_turns_the_instance_events_off(api, aws, receiver, instance, worker):
    receiver.respond_with([410])
    gone, after = job("gone"), job("after")
    enqueue(aws, gone)
    worker.drain()
    assert deliveries.get(1, gone["eventId"])["lastResponseCode"] == 410
    assert http_answer(api, load_event("api/get_instance.json"))[1]["eventsEnabled"] is False
    enqueue(aws, after)
    worker.drain()
    assert len(receiver.requests) == 1
    assert deliveries.get(1, after["eventId"])["status"] == "cancelled"


def test_deleting_an_instance_cancels_what_it_had_not_delivered(api, aws, dispatcher, receiver, instance):
    receiver.respond_always(500)
    item = job("undelivered")
    enqueue(aws, item)
    attempt(aws, dispatcher)
    assert deliveries.get(1, item["eventId"])["status"] == "retrying"
    http_answer(api, load_event("api/delete_instance.json"))
    assert deliveries.get(1, item["eventId"])["status"] == "cancelled"
    attempt(aws, dispatcher)  # its next try finds the instance gone
    assert len(receiver.requests) == 1


def test_the_log_filters_by_status_and_pages_newest_first(api, aws, receiver, instance, worker):
    items = []
    for i in range(3):
        time.sleep(0.002)  # the log orders by when the job was made, to the millisecond
        items.append(job(f"e{i}"))
        enqueue(aws, items[-1])
        worker.drain()
    assert [e["eventId"] for e in log(api)] == [i["eventId"] for i in reversed(items)]
    assert log(api, "failed") == []
    event = load_event("api/get_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/elements/api-v2/instances/1/events"
    event["queryStringParameters"] = {"pageSize": "2"}
    answer = invoke(api, event)
    token = answer["headers"]["Elements-Next-Page-Token"]
    assert len(json.loads(answer["body"])) == 2
    event["queryStringParameters"] = {"pageSize": "2", "nextPage": token}
    assert [e["eventId"] for e in json.loads(invoke(api, event)["body"])] == [items[0]["eventId"]]
    entry = log(api)[0]
    assert {"eventId", "status", "attempts", "createdDate", "updatedDate", "lastResponseCode"} <= set(entry)


@pytest.mark.parametrize(
    "query", [{"status": "lost"}, {"nextPage": "not-a-token"}, {"from": "yesterday"}, {"pageSize": "0"}]
)
def test_bad_log_queries_are_400(api, aws, instance, query):
    event = load_event("api/get_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/elements/api-v2/instances/1/events"
    event["queryStringParameters"] = query
    status, body = http_answer(api, event)
    assert status == 400 and body["message"]


def test_a_2_mb_webhook_body_reaches_the_callback_intact(api, aws, receiver, instance, worker):
    notification = json.loads(load_event("api/webhook_contact_created.json")["body"])
    notification["data"]["item"]["custom_attributes"] = {"notes": "x" * (2 * 1024 * 1024)}
    body = json.dumps(notification).encode()
    event = copy.deepcopy(load_event("api/webhook_contact_created.json"))
    event["body"] = body.decode()
    event["headers"]["x-hub-signature"] = hub_signature(body, "sample-client-secret")

    assert http_answer(api, event)[0] == 200
    worker.drain()

    [request] = receiver.requests
    assert request.json()["message"]["raw"] == notification
    assert len(request.body) > 2 * 1024 * 1024


def test_a_late_copy_of_a_delivered_job_after_a_delete_leaves_it_delivered(
    api, aws, receiver, instance, worker
):
    item = job("delivered-then-deleted")
    enqueue(aws, item)
    worker.drain()
    http_answer(api, load_event("api/delete_instance.json"))
    enqueue(aws, item)  # a redelivered copy arrives after the delete
    worker.drain()
    assert deliveries.get(1, item["eventId"])["status"] == "delivered"
    assert len(receiver.requests) == 1
