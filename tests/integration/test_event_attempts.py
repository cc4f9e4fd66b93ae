"""One event opened (issue #11): its callback as sent and every attempt, as Svix shows message attempts.

Each attempt is a real receive of the message by the dispatcher, against a real receiver on loopback;
instead of waiting out the backoff, the test makes the message visible again (as test_event_log does).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from intercom_events.config import settings
from intercom_events.logic import delivery
from intercom_events.models.events import CallbackJob
from intercom_events.store import deliveries, queue
from intercom_events.store.items import event_key, job_key

from local.receiver import Reply
from tests.conftest import OTHER_AUTH, callback_job, http_answer, load_event
from tests.integration.conftest import attempt, enqueue

SECRET_HEADER = "receiver-token-0f9a3c"
BASIC_PASSWORD = "hunter2-basic"


@pytest.fixture
def instance(api, receiver) -> dict[str, Any]:
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200
    return configure(api, {"event.notification.callback.url": f"{receiver.url}/cb"})


def configure(api, configuration: dict[str, Any]) -> dict[str, Any]:
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": configuration})
    status, body = http_answer(api, patch)
    assert status == 200, body
    return body


def request(api, method: str, path: str, auth: str | None = None) -> tuple[int, Any]:
    event = load_event("api/get_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/elements/api-v2{path}"
    event["requestContext"]["http"]["method"] = method
    if auth:
        event["headers"]["authorization"] = auth
    return http_answer(api, event)


def opened(api, event_id: str) -> dict[str, Any]:
    status, body = request(api, "GET", f"/instances/1/events/{event_id}")
    assert status == 200, body
    return body


def test_a_failed_then_delivered_event_shows_both_attempts_and_the_callback_the_receiver_got(
    api, aws, dispatcher, receiver, instance
):
    receiver.respond_with([Reply(500, body=b"down for maintenance"), Reply(200, body=b'{"ok":true}')])
    item = callback_job("notif_attempts")
    enqueue(aws, item)
    assert attempt(aws, dispatcher)["batchItemFailures"]
    assert not attempt(aws, dispatcher)["batchItemFailures"]

    detail = opened(api, item["eventId"])
    assert detail["status"] == "delivered" and detail["attempts"] == 2
    first, second = detail["attemptLog"]
    assert {k: v for k, v in first.items() if k not in ("date", "durationMs")} == {
        "attempt": 1,
        "responseCode": 500,
        "error": "HTTP 500",
        "responseBody": "down for maintenance",
    }
    assert {k: v for k, v in second.items() if k not in ("date", "durationMs")} == {
        "attempt": 2,
        "responseCode": 200,
        "responseBody": '{"ok":true}',
    }
    for entry in (first, second):
        assert isinstance(entry["durationMs"], int) and entry["durationMs"] >= 0
    sent = [datetime.fromisoformat(entry["date"]) for entry in (first, second)]
    assert sent[0] <= sent[1]
    # The callback as the receiver got it, and where; never its headers (they hold the instance's secrets).
    assert detail["callback"] == {"url": f"{receiver.url}/cb", "body": receiver.requests[1].json()}
    assert receiver.requests[0].json() == receiver.requests[1].json()


@pytest.fixture
def short_deadline(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_TIMEOUT_SECONDS", "1")
    settings.cache_clear()


@pytest.fixture
def hanging(receiver) -> Iterator[str]:
    """The receiver holding its answer until the test ends."""
    release = threading.Event()
    receiver.respond_always(Reply(200, body=b"too late", hold=release))
    yield f"{receiver.url}/cb"
    release.set()


@pytest.fixture
def refusing() -> str:
    """A loopback port with nothing listening: the connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/cb"


@pytest.mark.parametrize(("peer", "error"), [("hanging", "TimeoutError"), ("refusing", "ConnectError")])
def test_a_receiver_that_hangs_or_refuses_gives_an_attempt_with_its_error_and_no_code(
    api, aws, dispatcher, instance, short_deadline, request, peer, error
):
    configure(api, {"event.notification.callback.url": request.getfixturevalue(peer)})
    item = callback_job("notif_no_answer")
    enqueue(aws, item)
    assert attempt(aws, dispatcher)["batchItemFailures"]

    detail = opened(api, item["eventId"])
    [entry] = detail["attemptLog"]
    assert entry["attempt"] == 1 and entry["error"].startswith(error)
    assert "responseCode" not in entry and "responseBody" not in entry
    assert detail["status"] == "retrying" and detail["lastError"] == entry["error"]


def test_a_big_answer_is_cut_to_its_first_characters_decoded_with_replacement(
    api, aws, dispatcher, receiver, instance
):
    receiver.respond_with([Reply(500, body=b"\xff" + "é".encode() * 5000)])
    item = callback_job("notif_big_answer")
    enqueue(aws, item)
    attempt(aws, dispatcher)
    [entry] = opened(api, item["eventId"])["attemptLog"]
    assert entry["responseBody"] == "\ufffd" + "é" * (delivery.KEPT_ANSWER_CHARACTERS - 1)


def test_secrets_a_receiver_echoes_are_neither_kept_nor_answered(api, aws, dispatcher, receiver, instance):
    configure(
        api,
        {
            "event.notification.callback.headers": json.dumps({"X-Api-Key": SECRET_HEADER}),
            "event.notification.basic.username": "intercom",
            "event.notification.basic.password": BASIC_PASSWORD,
        },
    )
    # A receiver that echoes what it was sent, as debugging endpoints do.
    basic = base64.b64encode(f"intercom:{BASIC_PASSWORD}".encode()).decode()
    echoed = f"X-Api-Key: {SECRET_HEADER}; password {BASIC_PASSWORD}; token {basic}"
    receiver.respond_always(Reply(400, body=echoed.encode()))
    item = callback_job("notif_echo")
    enqueue(aws, item)
    attempt(aws, dispatcher)
    [sent] = receiver.requests
    assert sent.header("x-api-key") == SECRET_HEADER  # the secret did go to the receiver

    detail = opened(api, item["eventId"])
    [entry] = detail["attemptLog"]
    assert entry["responseBody"] == "X-Api-Key: ********; password ********; token ********"
    answered = json.dumps(detail)
    kept = json.dumps(  # the kept job (the one binary attribute) read as its plain text
        aws.client("dynamodb").get_item(TableName=aws.table_name, Key=event_key(1, item["eventId"])),
        default=lambda packed: zlib.decompress(packed).decode(),
    )
    for text in (answered, kept):
        assert SECRET_HEADER not in text and BASIC_PASSWORD not in text and basic not in text
    assert "headers" not in detail["callback"]


def test_the_attempt_log_keeps_only_the_last_attempts_across_replays(
    api, aws, dispatcher, receiver, instance
):
    receiver.respond_always(500)
    item = callback_job("notif_many")
    enqueue(aws, item)
    made = 0
    for _ in range(3):  # the whole schedule twice, a bulk retry between, then a few more tries
        while made < 2 * 9 + 5:
            made += 1
            if not attempt(aws, dispatcher)["batchItemFailures"] or made % 9 == 0:
                break
        if made % 9 == 0:
            assert deliveries.get(1, item["eventId"])["status"] == "failed"
            assert request(api, "POST", "/instances/1/events/retry")[0] == 202
    assert len(receiver.requests) == made == 23

    detail = opened(api, item["eventId"])
    kept = deliveries.ATTEMPTS_KEPT
    assert detail["attempts"] == made
    assert [entry["attempt"] for entry in detail["attemptLog"]] == list(range(made - kept + 1, made + 1))


def test_an_event_whose_job_is_no_longer_kept_is_answered_without_its_callback(
    api, aws, dispatcher, receiver, instance
):
    item = callback_job("notif_expired")
    enqueue(aws, item)
    attempt(aws, dispatcher)
    aws.client("dynamodb").update_item(
        TableName=aws.table_name, Key=event_key(1, item["eventId"]), UpdateExpression="REMOVE job"
    )
    detail = opened(api, item["eventId"])
    assert "callback" not in detail and [e["attempt"] for e in detail["attemptLog"]] == [1]


def test_an_event_logged_before_jobs_went_on_the_event_still_opens_and_replays_its_kept_job(
    api, aws, dispatcher, receiver, instance
):
    """Such an event has no job of its own; its job is the JOB# item beside it, until the TTL takes both."""
    item = callback_job("notif_legacy")
    enqueue(aws, item)
    attempt(aws, dispatcher)
    ddb = aws.client("dynamodb")
    ddb.update_item(
        TableName=aws.table_name, Key=event_key(1, item["eventId"]), UpdateExpression="REMOVE job"
    )
    legacy = {**job_key(1, item["eventId"]), "body": {"S": json.dumps(item)}}
    ddb.put_item(TableName=aws.table_name, Item=legacy)

    assert opened(api, item["eventId"])["callback"]["body"] == receiver.requests[0].json()
    assert request(api, "POST", f"/instances/1/events/{item['eventId']}/retry")[0] == 202
    attempt(aws, dispatcher)
    first, replayed = receiver.requests
    assert replayed.body == first.body


def test_a_large_job_is_read_back_from_s3_and_its_expiry_there_leaves_the_callback_out(
    api, aws, dispatcher, receiver, instance
):
    item = callback_job("notif_large")
    item["raw"]["notes"] = "x" * 300_000  # past one SQS message: the job goes to S3
    body = queue.message_body(CallbackJob.model_validate(item))
    assert "bodyRef" in body
    aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=body)
    attempt(aws, dispatcher)
    assert opened(api, item["eventId"])["callback"]["body"] == receiver.requests[0].json()

    reference = json.loads(body)["bodyRef"]
    aws.client("s3").delete_object(Bucket=reference["bucket"], Key=reference["key"])
    assert "callback" not in opened(api, item["eventId"])


def test_unknown_events_and_other_users_instances_are_404(api, aws, dispatcher, receiver, instance):
    item = callback_job("notif_mine")
    enqueue(aws, item)
    attempt(aws, dispatcher)
    assert request(api, "GET", "/instances/1/events/no-such-event")[0] == 404
    assert request(api, "GET", "/instances/1/events/" + "e" * 2000)[0] == 404
    assert request(api, "GET", f"/instances/2/events/{item['eventId']}")[0] == 404
    assert request(api, "GET", f"/instances/1/events/{item['eventId']}", auth=OTHER_AUTH)[0] == 404


def test_the_event_log_list_is_unchanged_and_agrees_with_the_opened_event(
    api, aws, dispatcher, receiver, instance
):
    receiver.respond_with([500])
    item = callback_job("notif_listed")
    enqueue(aws, item)
    attempt(aws, dispatcher)
    attempt(aws, dispatcher)
    status, [listed] = request(api, "GET", "/instances/1/events")
    assert status == 200
    detail = opened(api, item["eventId"])
    assert listed == {k: v for k, v in detail.items() if k not in ("callback", "attemptLog")}
    assert listed["attempts"] == 2 and listed["status"] == "delivered"
    assert set(listed) == {
        "eventId",
        "status",
        "attempts",
        "source",
        "objectTypes",
        "lastResponseCode",
        "createdDate",
        "updatedDate",
        "deliveredDate",
    }
