"""Operational events (issue #12): what stops or restarts delivery is published on the stack's EventBridge
bus, one event per occurrence. Each kind is driven along its real path (the dispatcher against a loopback
receiver, the retry route, the poller against the simulated Intercom) and read back as a subscriber
reads it: a rule on the bus sending the events to an SQS queue (moto delivers them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_events.store import bus, deliveries
from intercom_events.store import instances as instance_store

from local.queue_worker import QueueWorker
from tests.conftest import callback_job, http_answer, load_event
from tests.integration.conftest import TOKEN
from tests.integration.test_polling import run_poller

SIGNATURE_KEY = "sample-signature-key"  # events/api/create_instance_token.json

Published = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def published(aws) -> Published:
    """The events published so far (each once), through a rule on the bus as docs/operations.md says."""
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName=f"{aws.stack_name}-subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = {"Name": "operations-to-queue", "EventBusName": aws.event_bus_name}
    events.put_rule(**rule, EventPattern=json.dumps({"source": [bus.SOURCE]}))
    events.put_targets(Rule=rule["Name"], EventBusName=aws.event_bus_name, Targets=[{"Id": "q", "Arn": arn}])

    def taken() -> list[dict[str, Any]]:
        found = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                assert SIGNATURE_KEY not in message["Body"] and TOKEN not in message["Body"]
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return taken


def last_attempt_fails(aws, worker: QueueWorker, receiver, notification_id: str) -> dict[str, Any]:
    """A job whose ninth and last attempt gets a 503: the instance's deliveries are suspended."""
    receiver.respond_always(503)
    job = callback_job(notification_id)
    aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(job))
    for _ in range(8):  # the eight earlier attempts, as far as SQS's receive count knows
        aws.client("sqs").receive_message(QueueUrl=aws.queue_url, VisibilityTimeout=0)
    assert worker.drain_once().failed_ids
    assert deliveries.state(1)["suspended"] is True
    return job


def retry_all(api) -> dict[str, Any]:
    event = load_event("api/poll_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/elements/api-v2/instances/1/events/retry"
    status, body = http_answer(api, event)
    assert status == 202, body
    return dict(body)


def test_retries_spent_publish_instance_suspended(aws, instance, receiver, worker, published):
    job = last_attempt_fails(aws, worker, receiver, "notif_spent")

    [event] = published()

    assert event["source"] == "intercom-events" and event["detail-type"] == "Instance Suspended"
    detail = event["detail"]
    assert detail["instanceId"] == 1 and detail["eventId"] == job["eventId"]
    assert detail["reason"] == "retries spent: HTTP 503" and detail["time"].endswith("Z")


def test_an_instance_already_suspended_is_not_suspended_again_so_it_is_announced_once(aws, instance):
    """Several events of one instance can spend their last try at once: only the first suspends."""
    now = datetime.now(UTC)

    assert deliveries.suspend(1, "first-failed", now) is True
    assert deliveries.suspend(1, "second-failed", now) is False
    assert deliveries.state(1)["failedEventId"] == "first-failed"


def test_a_410_publishes_instance_events_turned_off(aws, instance, receiver, worker, published):
    receiver.respond_always(410)
    job = callback_job("notif_gone")
    aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(job))

    assert worker.drain_once().failed_ids == []

    [event] = published()
    assert event["detail-type"] == "Instance Events Turned Off"
    assert event["detail"]["instanceId"] == 1 and event["detail"]["eventId"] == job["eventId"]
    assert event["detail"]["reason"] == "receiver gone (410)"


def test_a_retry_that_lifts_a_suspension_publishes_instance_resumed_and_one_that_does_not_publishes_nothing(
    api, aws, instance, receiver, worker, published
):
    last_attempt_fails(aws, worker, receiver, "notif_resume")
    assert [e["detail-type"] for e in published()] == ["Instance Suspended"]

    assert retry_all(api)["resumed"] is True
    [event] = published()
    assert event["detail-type"] == "Instance Resumed"
    assert event["detail"]["instanceId"] == 1 and event["detail"]["retried"] == 1

    assert retry_all(api)["resumed"] is False
    assert published() == []


def test_a_poller_refused_by_intercom_is_published_once_per_refusal_not_per_poll(
    api, aws, poller, intercom, workspace, published
):
    status, created = http_answer(api, load_event("api/create_instance_polling.json"))
    assert status == 200, created
    run_poller(poller)
    assert published() == []

    intercom.revoke_token(TOKEN)
    run_poller(poller)
    [event] = published()
    assert event["detail-type"] == "Poller Authorization Refused"
    assert event["detail"]["instanceId"] == 1 and "401" in event["detail"]["reason"]

    time.sleep(1.05)  # the next poll in a later second: the refusal's date (seconds) tells the polls apart
    assert run_poller(poller)["outcome"] == "unauthorized"
    assert published() == []

    intercom.issue_token(token=TOKEN)  # let in again: the refusal is over
    assert run_poller(poller)["outcome"] == "done"
    intercom.revoke_token(TOKEN)
    run_poller(poller)
    assert [e["detail-type"] for e in published()] == ["Poller Authorization Refused"]


def test_a_bus_that_cannot_take_the_event_does_not_fail_the_delivery(aws, instance, receiver, worker):
    aws.client("events").delete_event_bus(Name=aws.event_bus_name)
    receiver.respond_always(410)
    job = callback_job("notif_gone_no_bus")
    aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(job))

    assert worker.drain_once().failed_ids == []

    record = deliveries.get(1, job["eventId"])
    assert (record["status"], record["lastError"]) == ("failed", "receiver gone (410)")
    stored = instance_store.get(1)
    assert stored is not None and stored.config.events_enabled is False
