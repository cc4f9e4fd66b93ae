"""A slow or hostile receiver costs one attempt, not the batch; every failure is on the record (SPEC §6).

The dispatcher runs in-process on real SQS batches (moto); the receivers are real servers on loopback
(tests/loopback_peers.py), and the callback deadline is set short through CALLBACK_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from intercom_events.config import settings
from intercom_events.logic import delivery
from intercom_events.store import deliveries
from intercom_events.store import instances as instance_store

from tests.conftest import callback_job, http_answer, invoke, load_event
from tests.integration.conftest import enqueue
from tests.loopback_peers import Huge, LoopbackServer, hanging, healthy, trickling

DEADLINE_SECONDS = 2
SECRET_HEADER_VALUE = "tok-3f9a1c-secret"


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_TIMEOUT_SECONDS", str(DEADLINE_SECONDS))
    settings.cache_clear()


@pytest.fixture
def servers() -> Iterator[list[LoopbackServer]]:
    started: list[LoopbackServer] = []
    yield started
    for server in started:
        server.stop()


def create_instance(api, callback_url: str) -> int:
    event = load_event("api/create_instance_token.json")
    body = json.loads(event["body"])
    body["configuration"]["event.notification.callback.url"] = callback_url
    event["body"] = json.dumps(body)
    status, answer = http_answer(api, event)
    assert status == 200, answer
    return int(answer["id"])


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line of the test with all its keys, as CloudWatch would get them."""
    return "\n".join(json.dumps(vars(r), default=str) for r in caplog.records)


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


@pytest.mark.timeout(120)
def test_hostile_receivers_cost_one_attempt_each_and_the_healthy_instance_is_delivered_on_time(
    api, aws, worker, short_deadline, servers
):
    good, slow, hung = healthy().start(), trickling().start(), hanging().start()
    big = Huge(300 * 1024 * 1024)
    big.server.start()
    servers += [good, slow, hung, big.server]
    good_id = create_instance(api, good.url)
    hostile = {
        create_instance(api, slow.url): "TimeoutError: ",
        create_instance(api, hung.url): "TimeoutError: ",
        create_instance(api, big.server.url): "HTTP 500",
    }
    good_jobs = [callback_job("notif_good_1", good_id), callback_job("notif_good_2", good_id)]
    hostile_jobs = [callback_job(f"notif_hostile_{instance_id}", instance_id) for instance_id in hostile]
    enqueue(aws, *good_jobs, *hostile_jobs)
    rss_before = max_rss_bytes()

    started = time.monotonic()
    result = worker.drain_once()
    took = time.monotonic() - started

    assert len(result.message_ids) == 5 and len(result.failed_ids) == 3
    # The healthy instance's callbacks arrived in this same invocation.
    assert good.requests == 2
    for job in good_jobs:
        assert deliveries.get(good_id, job["eventId"])["status"] == "delivered"
    for job in hostile_jobs:
        record = deliveries.get(job["instanceId"], job["eventId"])
        assert record["status"] == "retrying" and record["attempts"] == 1
        assert record["lastError"].startswith(hostile[job["instanceId"]])
    # One deadline for each callback, and the event-log writes after it: not the function's timeout.
    assert took < DEADLINE_SECONDS + delivery.LOG_RESERVE_SECONDS
    # The 300 MB answer was neither buffered nor read to its end.
    assert max_rss_bytes() - rss_before < 100 * 1024 * 1024
    assert big.sent < big.size // 10


def test_a_retry_goes_to_the_hostile_receiver_again_and_only_to_it(api, aws, worker, short_deadline, servers):
    good, hung = healthy().start(), hanging().start()
    servers += [good, hung]
    good_id, hung_id = create_instance(api, good.url), create_instance(api, hung.url)
    hung_job = callback_job("notif_hung", hung_id)
    enqueue(aws, callback_job("notif_good", good_id), hung_job)

    worker.drain_once()
    again = worker.drain_once()  # the schedule's first retry is at once

    assert len(again.message_ids) == 1 and good.requests == 1
    assert deliveries.get(hung_id, hung_job["eventId"])["attempts"] == 2


@pytest.mark.timeout(60)
def test_batches_do_not_leave_connections_open(api, dispatcher, aws, servers):
    """Off Lambda every batch runs on an event loop of its own; its callback client goes with it."""
    good = healthy().start()
    servers.append(good)
    instance_id = create_instance(api, good.url)
    batches = 6
    for n in range(batches):
        job = callback_job(f"notif_leak_{n}", instance_id)
        record = {
            "messageId": f"m{n}",
            "receiptHandle": f"r{n}",
            "body": json.dumps(job),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:callbacks",
            "awsRegion": "us-east-1",
        }
        assert invoke(dispatcher, {"Records": [record]}, "dispatcher") == {"batchItemFailures": []}

    assert good.requests == batches
    # The server sees a client's close a moment later; without it the count would stay at `batches`.
    waited = time.monotonic() + 10
    while good.open_connections and time.monotonic() < waited:
        time.sleep(0.05)
    assert good.open_connections == 0


# ---- every failure on the record ------------------------------------------------------------------------


def stored_with(instance_id: int, **configuration: Any) -> None:
    """Change an instance behind the API's back, as one saved before today's checks would be."""
    instance = instance_store.get(instance_id)
    assert instance is not None
    changed = instance.model_copy(update={"configuration": {**instance.configuration, **configuration}})
    instance_store.save(changed)


@pytest.mark.parametrize(
    ("configuration", "secret"),
    [
        (
            {"event.notification.callback.headers": {"X-Token": SECRET_HEADER_VALUE + "\r\nX-Injected: 1"}},
            None,
        ),
        ({"event.notification.callback.headers": {"X-Token": SECRET_HEADER_VALUE + "é"}}, None),
        ({"event.notification.callback.headers": {"X Token": SECRET_HEADER_VALUE}}, None),
        ({"event.notification.callback.url": "http://127.0.0.1:99999/callbacks"}, None),
        ({"event.notification.callback.url": "http://[::1/callbacks"}, None),
        ({"event.notification.callback.url": "http://user:pa55-w0rd-x@127.0.0.1:9/callbacks"}, "pa55-w0rd-x"),
        ({"event.notification.callback.url": "ftp://127.0.0.1/callbacks"}, None),
    ],
)
def test_a_request_the_http_client_refuses_is_a_recorded_failed_attempt(
    api, aws, worker, servers, configuration, secret, caplog
):
    good = healthy().start()
    servers.append(good)
    instance_id = create_instance(api, good.url)
    stored_with(instance_id, **configuration)
    job = callback_job("notif_refused", instance_id)
    enqueue(aws, job)

    result = worker.drain_once()

    assert result.failed_ids and good.requests == 0
    record = deliveries.get(instance_id, job["eventId"])
    assert record["status"] == "retrying"
    assert record["lastError"].split(":")[0].isidentifier()  # the exception's type, then a reason
    lines = logged(caplog)
    assert "callback failed; will retry" in lines
    for value in (SECRET_HEADER_VALUE, secret):
        if value:
            assert value not in record["lastError"] and value not in lines


def test_an_instance_that_cannot_be_read_is_a_recorded_failed_attempt(api, aws, worker, servers, monkeypatch):
    good = healthy().start()
    servers.append(good)
    instance_id = create_instance(api, good.url)
    job = callback_job("notif_unreadable", instance_id)
    enqueue(aws, job)

    def unreadable(_: int) -> None:
        raise RuntimeError("KMS said no")

    monkeypatch.setattr(instance_store, "get", unreadable)
    result = worker.drain_once()

    assert result.failed_ids and good.requests == 0
    record = deliveries.get(instance_id, job["eventId"])
    assert record["status"] == "retrying" and record["lastError"].startswith("RuntimeError: ")
    assert record["attempts"] == 0 and record["source"] == "webhook"  # nothing was sent
    assert "KMS said no" not in record["lastError"]


def test_when_the_event_log_cannot_be_written_the_job_is_retried_on_the_schedule_and_logged(
    api, aws, worker, servers, monkeypatch, caplog
):
    good = healthy().start()
    servers.append(good)
    instance_id = create_instance(api, good.url)
    enqueue(aws, callback_job("notif_log_down", instance_id))

    def log_down(*_: Any, **__: Any) -> None:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(deliveries, "claim", log_down)
    monkeypatch.setattr(deliveries, "record", log_down)
    result = worker.drain_once()

    assert result.failed_ids
    assert "callback attempt failed and could not be recorded; will retry" in logged(caplog)
    assert worker.drain_once().message_ids  # the schedule's first retry: at once


def test_a_job_that_does_not_parse_goes_to_the_dead_letter_queue_within_its_receives(aws, worker, caplog):
    enqueue(aws, {"instanceId": 1, "eventId": "not-a-job"})
    sqs = aws.client("sqs")

    for _ in range(9):  # let go at once each time, never hidden for the visibility timeout
        assert worker.drain_once().failed_ids

    assert sqs.receive_message(QueueUrl=aws.queue_url).get("Messages") is None
    assert sqs.receive_message(QueueUrl=aws.dlq_url)["Messages"]
    assert "callback job unreadable" in logged(caplog)


# ---- the event log's entries -----------------------------------------------------------------------------


def test_a_queued_entry_carries_the_fields_of_a_delivered_one(api, aws, worker, servers):
    good = healthy().start()
    servers.append(good)
    instance_id = create_instance(api, good.url)
    delivered, queued = callback_job("notif_before", instance_id), callback_job("notif_after", instance_id)
    enqueue(aws, delivered)
    worker.drain_once()
    deliveries.suspend(instance_id, "some-event", datetime.now(UTC))
    enqueue(aws, queued)
    worker.drain_once()

    first = deliveries.public(deliveries.get(instance_id, delivered["eventId"]))
    second = deliveries.public(deliveries.get(instance_id, queued["eventId"]))
    assert second["status"] == "queued" and good.requests == 1
    assert second["attempts"] == 0
    expected = set(first) - {"lastResponseCode", "deliveredDate", "status", "lastError"}
    assert expected <= set(second)
    assert second["source"] == first["source"] and second["objectTypes"] == first["objectTypes"]
