"""The per-instance circuit breaker (issue #12): a run of failed attempts across an instance's events
opens it; its events are then kept as queued without a dial; after the cool-down one probe decides
whether it closes (the parked events sent again, oldest first) or opens for longer; kept open past the
retry schedule's span, it suspends the instance as a spent event does.

Each test drives the dispatcher one queue message at a time (`handle`), against a loopback receiver.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from intercom_events.dates import utc_iso
from intercom_events.logic import breaker
from intercom_events.store import aws as store_aws
from intercom_events.store import deliveries
from intercom_events.store.items import delivery_state_key

from local.queue_worker import QueueWorker, sqs_record
from local.receiver import Reply
from tests.conftest import callback_job, http_answer, invoke, load_event
from tests.integration.test_event_log import log
from tests.integration.test_operational_events import published, retry_all

__all__ = ["published"]  # the bus subscriber fixture, shared


def configure(api, **values: Any) -> tuple[int, Any]:
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": values})
    return http_answer(api, patch)


@pytest.fixture
def breaker_of_3(api, instance) -> None:
    """Three failed attempts in a row open the breaker; a one-second cool-down."""
    status, body = configure(
        api, **{"event.notification.breaker.failures": 3, "event.notification.breaker.cooldown.seconds": 1}
    )
    assert status == 200, body


def delivery_status(api) -> dict[str, Any] | None:
    status, body = http_answer(api, load_event("api/get_instance.json"))
    assert status == 200, body
    return body.get("deliveryStatus")


def handle(aws, dispatcher, wait_seconds: int = 0) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The next queue message (waiting up to `wait_seconds` for one) through the dispatcher, then off the
    queue whatever became of it, so the next call takes the next message: its body and the answer."""
    sqs = aws.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=aws.queue_url, AttributeNames=["All"], WaitTimeSeconds=wait_seconds
    ).get("Messages", [])
    if not messages:
        return None
    [message] = messages
    record = sqs_record(message, queue_arn=aws.queue_arn, region="us-east-1")
    answer = invoke(dispatcher, {"Records": [record]}, "dispatcher")
    sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return json.loads(message["Body"]), answer


def send(aws, dispatcher, name: str) -> dict[str, Any]:
    """One new event's job on the queue and through the dispatcher."""
    job = callback_job(name, object_id=name)
    aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(job))
    handled = handle(aws, dispatcher)
    assert handled is not None and handled[0]["eventId"] == job["eventId"]
    return job


def open_with_failures(aws, dispatcher, receiver, count: int = 3) -> list[dict[str, Any]]:
    receiver.respond_always(500)
    return [send(aws, dispatcher, f"notif_fail_{i}") for i in range(count)]


def handle_probe(aws, dispatcher) -> dict[str, Any]:
    """Waits out the cool-down for the breaker's timer message, and hands it to the dispatcher."""
    handled = handle(aws, dispatcher, wait_seconds=5)
    assert handled is not None and handled[0] == {"breakerProbe": {"instanceId": 1}}, handled
    return handled[1]


def event_ids(requests: list[Any]) -> list[str]:
    return [request.json()["message"]["eventId"] for request in requests]


def test_failed_attempts_across_events_open_the_breaker(
    api, aws, dispatcher, receiver, breaker_of_3, published
):
    open_with_failures(aws, dispatcher, receiver, 2)
    assert delivery_status(api) == {"breaker": "closed", "consecutiveFailures": 2}
    assert published() == []

    send(aws, dispatcher, "notif_fail_2")

    status = delivery_status(api)
    assert status is not None and (status["breaker"], status["consecutiveFailures"]) == ("open", 3)
    assert status["openings"] == 1 and status["openUntil"] > status["openedDate"]
    [event] = published()
    assert event["detail-type"] == "Instance Breaker Opened"
    assert event["detail"]["instanceId"] == 1 and event["detail"]["failures"] == 3
    assert "HTTP 500" in event["detail"]["reason"]
    # Its timer: the probe message, visible once the cool-down is over.
    time.sleep(1.1)
    [message] = aws.client("sqs").receive_message(QueueUrl=aws.queue_url)["Messages"]
    assert json.loads(message["Body"]) == {"breakerProbe": {"instanceId": 1}}


def test_while_open_events_are_queued_without_a_dial(api, aws, dispatcher, receiver, instance, published):
    assert configure(api, **{"event.notification.breaker.failures": 3})[0] == 200  # a 60 s cool-down
    open_with_failures(aws, dispatcher, receiver)
    dialled = len(receiver.requests)

    parked = [send(aws, dispatcher, f"notif_parked_{i}") for i in range(2)]

    assert len(receiver.requests) == dialled
    entries = {entry["eventId"]: entry for entry in log(api)}
    for job in parked:
        entry = entries[job["eventId"]]
        assert (entry["status"], entry["lastError"], entry["attempts"]) == (
            "queued",
            "circuit breaker open",
            0,
        )
    assert deliveries.kept_job(1, parked[0]["eventId"]) is not None  # kept, to be sent when it closes


def test_a_delivered_callback_ends_the_run(api, aws, dispatcher, receiver, breaker_of_3, published):
    receiver.respond_with([500, 500, 200, 500, 500])
    for i in range(5):
        send(aws, dispatcher, f"notif_run_{i}")

    assert delivery_status(api) == {"breaker": "closed", "consecutiveFailures": 2}
    assert published() == []


def test_a_failed_probe_opens_the_breaker_again_for_twice_the_cool_down(
    api, aws, dispatcher, receiver, breaker_of_3, published
):
    # The failure that opened the breaker is parked too, not left to its retry schedule: the oldest.
    opener = open_with_failures(aws, dispatcher, receiver)[-1]
    send(aws, dispatcher, "notif_parked")
    dialled = len(receiver.requests)

    before = time.time()
    handle_probe(aws, dispatcher)
    after = time.time()

    assert event_ids(receiver.requests[dialled:]) == [opener["eventId"]]  # one dial: the oldest parked
    state = deliveries.state(1)
    assert (state["breaker"], state["openings"]) == ("open", 2)
    assert before + 2 <= float(state["openUntil"]) <= after + 2.01  # the 1 s cool-down doubled
    record = deliveries.get(1, opener["eventId"])
    assert record["status"] == "queued" and record["attempts"] == 2
    assert [a["responseCode"] for a in deliveries.attempt_log(record)] == [500, 500]
    assert [e["detail-type"] for e in published()] == ["Instance Breaker Opened"]
    # The timer is set again: the next probe comes after the longer cool-down.
    assert handle(aws, dispatcher, wait_seconds=1) is None
    assert handle_probe(aws, dispatcher) == {"batchItemFailures": []}
    assert deliveries.state(1)["openings"] == 3


def test_a_probe_answered_closes_the_breaker_and_sends_the_parked_events_once_oldest_first(
    api, aws, dispatcher, receiver, breaker_of_3, published
):
    opener = open_with_failures(aws, dispatcher, receiver)[-1]  # parked when its failure opened it
    parked = [opener, *(send(aws, dispatcher, f"notif_parked_{i}") for i in range(4))]
    receiver.respond_always(200)
    dialled = len(receiver.requests)

    handle_probe(aws, dispatcher)
    while handle(aws, dispatcher) is not None:  # the drained events (the 30 s sweep stays hidden)
        pass

    assert event_ids(receiver.requests[dialled:]) == [job["eventId"] for job in parked]
    assert all(deliveries.get(1, job["eventId"])["status"] == "delivered" for job in parked)
    assert delivery_status(api) is None
    assert [e["detail-type"] for e in published()] == ["Instance Breaker Opened", "Instance Breaker Closed"]
    assert log(api, "queued") == []


def test_two_jobs_after_the_cool_down_make_one_probe_and_the_other_waits(
    api, aws, dispatcher, receiver, breaker_of_3, published
):
    opener = open_with_failures(aws, dispatcher, receiver)[-1]
    time.sleep(1.05)  # the cool-down over: the next job probes
    release = threading.Event()
    receiver.respond_always(Reply(200, hold=release, delay=10))
    jobs = [callback_job(f"notif_together_{i}", object_id=str(i)) for i in range(2)]
    for job in jobs:
        aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(job))

    def let_the_probe_answer_once_the_other_is_parked() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any((deliveries.get(1, j["eventId"]) or {}).get("status") == "queued" for j in jobs):
                break
            time.sleep(0.02)
        release.set()

    helper = threading.Thread(target=let_the_probe_answer_once_the_other_is_parked)
    helper.start()
    QueueWorker(dispatcher.lambda_handler, aws.queue_url, endpoint_url=None, wait_seconds=0).drain_once()  # type: ignore[arg-type]
    helper.join()

    # One dialled as the probe; the other was parked, and went back on the queue once the probe closed it.
    assert len(receiver.requests) == 3 + 1
    # The probe: one of the two jobs, or the oldest parked event (the failure that opened the breaker)
    # when the breaker's timer came in the same batch and took the lease first.
    statuses = sorted(deliveries.get(1, j["eventId"])["status"] for j in [*jobs, opener])
    assert statuses == ["delivered", "pending", "pending"]
    assert "breaker" not in deliveries.state(1)
    while handle(aws, dispatcher) is not None:
        pass
    # The two, and the failure that opened the breaker, parked with the other.
    assert sorted(event_ids(receiver.requests[3:])) == sorted(j["eventId"] for j in [*jobs, opener])


def test_a_drain_of_more_than_one_step_loses_nothing_and_sends_nothing_twice(
    api, aws, dispatcher, receiver, instance
):
    """205 parked events: the closing probe takes one, the drain sends 200 and a breakerDrain message the
    other 4."""
    now = datetime.now(UTC)
    parked = []
    for i in range(205):
        job = breaker_job(f"notif_many_{i}", now + timedelta(milliseconds=i))
        body = job.model_dump_json(exclude_none=True)
        deliveries.record(job, "queued", now, None, breaker.PARKED_REASON, message_body=body)
        parked.append(job.eventId)
    open_breaker_in_the_table(now - timedelta(seconds=5))
    breaker.send_probe(1, 0)

    worker = QueueWorker(dispatcher.lambda_handler, aws.queue_url, endpoint_url=None, wait_seconds=0)  # type: ignore[arg-type]
    while worker.drain_once().message_ids:
        pass

    sent = event_ids(receiver.requests)
    assert sorted(sent) == sorted(parked) and len(sent) == len(set(sent))
    assert log(api, "queued") == []


def test_a_breaker_open_longer_than_the_retry_schedule_suspends_and_retry_all_lifts_it(
    api, aws, dispatcher, receiver, breaker_of_3, published
):
    open_with_failures(aws, dispatcher, receiver)
    parked = send(aws, dispatcher, "notif_parked")
    # As if it had opened 29 hours ago (the schedule's nine tries take about 28).
    long_ago = utc_iso(datetime.now(UTC) - timedelta(hours=29))
    aws.client("dynamodb").update_item(
        TableName=aws.table_name,
        Key=delivery_state_key(1),
        UpdateExpression="SET openedDate = :then",
        ExpressionAttributeValues={":then": {"S": long_ago}},
    )

    handle_probe(aws, dispatcher)

    status = delivery_status(api)
    assert status is not None and status["suspended"] is True and "suspendedDate" in status
    kinds = [e["detail-type"] for e in published()]
    assert kinds == ["Instance Breaker Opened", "Instance Suspended"]
    assert handle(aws, dispatcher, wait_seconds=2) is None  # no timer any more
    assert deliveries.get(1, parked["eventId"])["status"] == "queued"

    receiver.respond_always(200)
    assert retry_all(api)["resumed"] is True
    assert delivery_status(api) is None
    while handle(aws, dispatcher) is not None:
        pass
    assert deliveries.get(1, parked["eventId"])["status"] == "delivered"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("event.notification.breaker.failures", -1),
        ("event.notification.breaker.failures", 1001),
        ("event.notification.breaker.failures", "many"),
        ("event.notification.breaker.cooldown.seconds", 0),
        ("event.notification.breaker.cooldown.seconds", 3601),
    ],
)
def test_a_bad_breaker_setting_is_400_naming_the_key(api, instance, key: str, value: Any):
    status, body = configure(api, **{key: value})

    assert status == 400, body
    assert [error["field"] for error in body["errors"]] == [f"configuration.{key}"]


def test_a_breaker_set_to_0_failures_never_opens(api, aws, dispatcher, receiver, instance, published):
    assert configure(api, **{"event.notification.breaker.failures": 0})[0] == 200

    open_with_failures(aws, dispatcher, receiver, 10)
    dialled = len(receiver.requests)
    send(aws, dispatcher, "notif_after")

    assert len(receiver.requests) == dialled + 1
    assert delivery_status(api) is None and published() == []


def test_a_healthy_instance_delivers_without_writing_its_delivery_state(aws, dispatcher, receiver, instance):
    writes: list[str] = []

    def seen(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name != "GetItem" and params.get("Key") == delivery_state_key(1):
            writes.append(model.name)

    ddb = store_aws.client("dynamodb")
    ddb.meta.events.register("before-parameter-build.dynamodb", seen)
    try:
        for i in range(3):
            send(aws, dispatcher, f"notif_fine_{i}")
    finally:
        ddb.meta.events.unregister("before-parameter-build.dynamodb", seen)

    assert len(receiver.requests) == 3
    assert writes == []


# ---- helpers for the drain test -------------------------------------------------------------------------


def breaker_job(name: str, enqueued: datetime) -> Any:
    from intercom_events.models.events import CallbackJob

    job = callback_job(name, object_id=name)
    job["enqueuedAt"] = utc_iso(enqueued, millis=True)
    return CallbackJob.model_validate(job)


def open_breaker_in_the_table(until: datetime) -> None:
    from intercom_events.store import breaker as breaker_store

    now = datetime.now(UTC)
    assert breaker_store.open_breaker(1, now, until) is not None
