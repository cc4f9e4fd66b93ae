"""The dispatcher (SPEC §6), invoked with events/dispatcher/batch.json and with real queue batches."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import threading
import time
from typing import Any

import pytest
from intercom_events.store import deliveries
from standardwebhooks.webhooks import Webhook

from local.receiver import Reply
from tests.conftest import callback_job, http_answer, invoke, load_event
from tests.integration.conftest import enqueue

SIGNATURE_KEY = "sample-signature-key"
BATCH = load_event("dispatcher/batch.json")
JOB = json.loads(BATCH["Records"][0]["body"])


@pytest.fixture
def instance(api, receiver) -> dict[str, Any]:
    """Instance 1 of the sample events, its callbacks pointed at the loopback receiver."""
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps(
        {"configuration": {"event.notification.callback.url": f"{receiver.url}/callbacks"}}
    )
    status, body = http_answer(api, patch)
    assert status == 200, body
    return body


def test_the_sample_batch_is_delivered_as_open_connectors_sends_it(dispatcher, instance, receiver):
    answer = invoke(dispatcher, BATCH, "dispatcher")

    assert answer == {"batchItemFailures": []}
    [request] = receiver.wait_for(1)
    assert request.method == "POST" and request.path == "/callbacks"
    assert request.header("content-type") == "application/json"
    body = request.json()
    assert body["severity"] == "medium" and body["action"] == "create"
    assert body["topic"] == "instance-1-intercom-events"
    assert body["createdDate"] == JOB["createdDate"]
    assert body["id"] == JOB["notificationId"]
    assert body["user"] == "developer"
    message = body["message"]
    assert message["eventId"] == JOB["eventId"]
    assert message["instanceId"] == message["instance_id"] == 1
    assert message["instanceName"] == "Renamed instance" or message["instanceName"] == instance["name"]
    assert message["instanceTags"] == instance["tags"]
    assert message["userId"] == 1 and message["elementKey"] == "intercom"
    assert message["raw"] == JOB["raw"]
    assert message["events"] == JOB["events"]


def test_a_receiver_verifies_both_signatures(dispatcher, instance, receiver):
    invoke(dispatcher, BATCH, "dispatcher")
    [request] = receiver.wait_for(1)

    expected = base64.b64encode(
        hmac.new(SIGNATURE_KEY.encode(), request.body, hashlib.sha256).digest()
    ).decode()
    assert request.header("elements-webhook-signature") == f"sha256={expected}"
    headers = {k: v for k, v in request.headers}
    secret = "whsec_" + base64.b64encode(SIGNATURE_KEY.encode()).decode()
    Webhook(secret).verify(request.body, headers)  # raises when the signature does not match
    assert request.header("webhook-id") == JOB["eventId"]


def test_a_delivered_event_is_not_delivered_again(dispatcher, instance, receiver):
    invoke(dispatcher, BATCH, "dispatcher")
    assert invoke(dispatcher, BATCH, "dispatcher") == {"batchItemFailures": []}
    time.sleep(0.2)
    assert len(receiver.requests) == 1
    record = deliveries.get(1, JOB["eventId"])
    assert record["status"] == "delivered" and record["attempts"] == 1 and record["lastResponseCode"] == 200


def test_configured_headers_and_basic_auth_go_with_each_callback(api, dispatcher, instance, receiver):
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps(
        {
            "configuration": {
                "event.notification.callback.headers": '{"X-Tenant": "acme"}',
                "event.notification.basic.username": "intercom",
                "event.notification.basic.password": "hunter2-basic",
            }
        }
    )
    status, body = http_answer(api, patch)
    assert status == 200 and body["configuration"]["event.notification.basic.password"] == "********"
    invoke(dispatcher, BATCH, "dispatcher")
    [request] = receiver.wait_for(1)
    assert request.header("x-tenant") == "acme"
    assert request.header("webhook-id") == JOB["eventId"]
    assert request.header("authorization") == "Basic " + base64.b64encode(b"intercom:hunter2-basic").decode()


def test_a_failed_callback_is_retried_with_the_same_ids_until_it_succeeds(aws, instance, receiver, worker):
    receiver.respond_with([500, 500, 200])
    job = callback_job("notif_retry")
    enqueue(aws, job)

    assert worker.drain_once().failed_ids  # attempt 1: 500, retried at once
    assert worker.drain_once().failed_ids  # attempt 2: 500, retried after 5 s (±20 %)
    assert worker.drain_once().message_ids == []  # hidden for the backoff
    record = deliveries.get(1, job["eventId"])
    assert record["status"] == "retrying" and record["attempts"] == 2 and record["lastResponseCode"] == 500

    deadline = time.monotonic() + 10
    while len(receiver.requests) < 3 and time.monotonic() < deadline:
        worker.drain_once(wait_seconds=1)
    first, second, third = receiver.requests
    assert third.received_at - second.received_at >= 3.9
    assert {r.header("webhook-id") for r in (first, second, third)} == {job["eventId"]}
    assert {r.json()["message"]["eventId"] for r in (first, second, third)} == {job["eventId"]}
    assert deliveries.get(1, job["eventId"])["status"] == "delivered"
    assert worker.drain_once().message_ids == []


def test_after_the_last_try_the_event_is_failed_and_the_message_goes_to_the_dead_letter_queue(
    aws, instance, receiver, worker
):
    receiver.respond_always(503)
    job = callback_job("notif_spent")
    enqueue(aws, job)
    sqs = aws.client("sqs")
    for _ in range(8):  # the eight earlier attempts, as far as SQS's receive count knows
        sqs.receive_message(QueueUrl=aws.queue_url, VisibilityTimeout=0)

    result = worker.drain_once()  # the ninth and last attempt

    assert result.failed_ids
    record = deliveries.get(1, job["eventId"])
    assert record["status"] == "failed" and record["lastResponseCode"] == 503
    assert sqs.receive_message(QueueUrl=aws.queue_url).get("Messages") is None
    [dead] = sqs.receive_message(QueueUrl=aws.dlq_url)["Messages"]
    assert json.loads(dead["Body"])["eventId"] == job["eventId"]


def test_callbacks_of_one_batch_go_out_concurrently(aws, instance, receiver, worker):
    receiver.respond_always(Reply(status=200, delay=1.0))
    jobs = [callback_job(f"notif_{i}", object_id=f"c{i}") for i in range(5)]
    enqueue(aws, *jobs)

    result = worker.drain_once()

    assert len(result.message_ids) == 5 and result.failed_ids == []
    arrivals = sorted(r.received_at for r in receiver.requests)
    # All five were in flight before the first answer came back (each takes 1 s to answer).
    assert arrivals[-1] - arrivals[0] < 1.0


def test_a_redirect_is_not_followed_and_counts_as_a_failure(aws, instance, receiver, worker):
    receiver.respond_with([Reply(status=307, headers=(("Location", f"{receiver.url}/elsewhere"),))])
    enqueue(aws, callback_job("notif_redirect"))

    assert worker.drain_once().failed_ids
    assert [r.path for r in receiver.requests] == ["/callbacks"]


def test_retry_after_on_429_delays_the_retry(aws, instance, receiver, worker):
    receiver.respond_with([Reply(status=429, retry_after=3)])
    job = callback_job("notif_429")
    enqueue(aws, job)

    assert worker.drain_once().failed_ids
    assert worker.drain_once().message_ids == []  # not offered again at once, as a plain failure would be
    assert deliveries.get(1, job["eventId"])["lastResponseCode"] == 429


def test_jobs_of_a_deleted_instance_are_cancelled_not_delivered(api, dispatcher, instance, receiver):
    http_answer(api, load_event("api/delete_instance.json"))
    assert invoke(dispatcher, copy.deepcopy(BATCH), "dispatcher") == {"batchItemFailures": []}
    assert receiver.requests == []
    assert deliveries.get(1, JOB["eventId"])["status"] == "cancelled"


def test_the_ninth_failed_receive_fails_the_event_and_suspends_the_instance_and_no_earlier_one(
    aws, instance, receiver, worker, monkeypatch
):
    from intercom_events.logic import delivery

    receiver.respond_always(500)
    real = delivery.next_retry_delay
    # Offered again at once instead of after the schedule's hours: the count of attempts is under test.
    monkeypatch.setattr(delivery, "next_retry_delay", lambda *a, **k: None if real(*a, **k) is None else 0)
    job = callback_job("notif_nine")
    enqueue(aws, job)
    sqs = aws.client("sqs")

    for attempt in range(1, 9):
        assert worker.drain_once().failed_ids, attempt
        record = deliveries.get(1, job["eventId"])
        assert (record["status"], record["attempts"]) == ("retrying", attempt)
        assert not deliveries.state(1).get("suspended"), attempt
    assert worker.drain_once().failed_ids

    assert len(receiver.requests) == 9
    record = deliveries.get(1, job["eventId"])
    assert (record["status"], record["attempts"], record["lastError"]) == ("failed", 9, "HTTP 500")
    assert deliveries.state(1)["suspended"] is True
    assert sqs.receive_message(QueueUrl=aws.queue_url).get("Messages") is None
    assert sqs.receive_message(QueueUrl=aws.dlq_url)["Messages"]


@pytest.mark.parametrize("status", [429, 503])
def test_a_short_retry_after_does_not_bring_the_retry_forward(
    aws, instance, receiver, worker, monkeypatch, status
):
    from intercom_events.store import queue

    receiver.respond_always(Reply(status=status, retry_after=1))
    delays: list[int] = []
    real = queue.delay_retry
    monkeypatch.setattr(
        queue, "delay_retry", lambda handle, seconds: (delays.append(seconds), real(handle, seconds))
    )
    enqueue(aws, callback_job(f"notif_{status}_short"))
    aws.client("sqs").receive_message(QueueUrl=aws.queue_url, VisibilityTimeout=0)  # attempt 1 elsewhere

    assert worker.drain_once().failed_ids  # attempt 2: the schedule's next step is 5 s (±20 %)

    assert delays and delays[0] >= 4


def test_the_ten_records_of_a_batch_make_their_blocking_calls_at_once(
    dispatcher, instance, receiver, monkeypatch
):
    """Each record's AWS calls run on a thread of the loop's pool: with fewer threads than records, the
    last records' claims (and so their callbacks) would wait for the first ones' calls to end."""
    batch = 10
    together = threading.Barrier(batch, timeout=10)  # only a guard: it breaks if fewer than 10 get there
    claim = deliveries.claim

    def claim_with_the_others(*args: Any, **kwargs: Any) -> Any:
        together.wait()
        return claim(*args, **kwargs)

    monkeypatch.setattr(deliveries, "claim", claim_with_the_others)
    records = []
    for i in range(batch):
        record = copy.deepcopy(BATCH["Records"][0])
        record["messageId"] = f"message-{i}"
        record["body"] = json.dumps(callback_job(f"notif_together_{i}"))
        records.append(record)

    answer = invoke(dispatcher, {"Records": records}, "dispatcher")

    assert answer == {"batchItemFailures": []}
    assert len(receiver.wait_for(batch)) == batch
