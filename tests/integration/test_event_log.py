"""Delivery you can trust (issue #4): the event log, replay, suspension, 410, cancellation, big bodies.

Time is simulated with SQS itself: each attempt is a real receive of the message (so its receive count
is the attempt number), and instead of waiting out the backoff the test makes the message visible again.
"""

from __future__ import annotations

import base64
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

from tests.conftest import http_answer, invoke, load_event
from tests.integration.conftest import attempt, enqueue


def job(name: str) -> dict[str, Any]:
    event = NormalizedEvent(
        date="2026-11-27T10:00:00Z", eventType=EventType.UPDATED, objectId=name, objectType="contacts"
    )
    raw = {"type": "notification_event", "id": name, "topic": "contact.user.updated"}
    [made] = make_jobs(1, "webhook", name, raw, [event], datetime.now(UTC), name)
    return json.loads(made.model_dump_json(exclude_none=True))


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


# ---- queries a client can get wrong: a page or a 400, never a 5xx ------------------------------------------


def log_query(api, query: dict[str, str], instance_id: int = 1) -> tuple[int, Any, str | None]:
    event = load_event("api/get_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = (
        f"/elements/api-v2/instances/{instance_id}/events"
    )
    event["queryStringParameters"] = query
    answer = invoke(api, event)
    return (
        answer["statusCode"],
        json.loads(answer["body"]),
        answer.get("headers", {}).get("Elements-Next-Page-Token"),
    )


def logged(instance_id: int, event_id: str, moment: datetime) -> None:
    order = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    deliveries.record_status(instance_id, event_id, "queued", moment, order=order)


@pytest.fixture
def dated_log(api, instance) -> list[str]:
    """Instance 1's log: one event a day from 25 to 28 November 2026, newest first."""
    ids = []
    for day in (25, 26, 27, 28):
        logged(1, f"day-{day}", datetime(2026, 11, day, 12, tzinfo=UTC))
        ids.insert(0, f"day-{day}")
    return ids


def test_to_without_from_lists_the_events_up_to_that_date(api, dated_log):
    status, page, _ = log_query(api, {"to": "2026-11-26T23:59:59Z"})

    assert status == 200, page
    assert [e["eventId"] for e in page] == ["day-26", "day-25"]


def test_from_without_to_lists_the_events_from_that_date(api, dated_log):
    status, page, _ = log_query(api, {"from": "2026-11-27"})

    assert status == 200, page
    assert [e["eventId"] for e in page] == ["day-28", "day-27"]


def test_from_after_to_is_400_naming_from(api, dated_log):
    status, body, _ = log_query(api, {"from": "2026-11-28", "to": "2026-11-25"})

    assert status == 400, body
    assert body["errors"] == [{"field": "from", "message": "after to"}]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_date_beyond_the_calendar_in_utc_is_400(api, dated_log, moment):
    status, body, _ = log_query(api, {"from": moment})

    assert status == 400, body
    assert body["errors"] == [{"field": "from", "message": "not a date"}]


def test_a_page_token_of_another_instance_never_opens_its_log(api, dated_log):
    other = load_event("api/create_instance_token.json")
    assert http_answer(api, other)[0] == 200  # instance 2, of the same user
    for day in (1, 2, 3):
        logged(2, f"other-{day}", datetime(2026, 12, day, tzinfo=UTC))
    _, _, token = log_query(api, {"pageSize": "1"}, instance_id=2)
    assert token

    status, body, _ = log_query(api, {"pageSize": "1", "nextPage": token}, instance_id=1)

    assert status == 400, body
    assert body["errors"] == [{"field": "nextPage", "message": "invalid page token"}]


def test_a_page_token_of_other_dates_is_400(api, dated_log):
    _, _, token = log_query(api, {"pageSize": "1", "to": "2026-11-28T23:59:59Z"})
    assert token  # after day-28: a key outside 25-26 November

    status, body, _ = log_query(
        api, {"pageSize": "1", "from": "2026-11-25", "to": "2026-11-26T23:59:59Z", "nextPage": token}
    )

    assert status == 400, body
    assert "other dates" in body["message"]


def _token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


FORGED_KEY = {
    "pk": {"S": "INSTANCE#1"},
    "sk": {"S": "EVENT#day-26"},
    "gsi2pk": {"S": "EVENTS#1"},
    "gsi2sk": {"S": "2026-11-26T12:00:00.000Z#day-26"},
}


@pytest.mark.parametrize(
    "token",
    [
        _token({"a": 1}),
        _token({"pk": 5}),
        _token([1, 2]),
        _token("text"),
        _token({**FORGED_KEY, "sk": {"S": 5}}),
        _token({**FORGED_KEY, "sk": {"N": "5"}}),
        _token({**FORGED_KEY, "sk": {"S": "x", "N": "5"}}),
        _token({**FORGED_KEY, "sk": {"S": "EVENT#" + "x" * 2000}}),
        _token({**FORGED_KEY, "gsi2sk": {"S": ""}}),
        _token({**FORGED_KEY, "pk": {"S": "INSTANCE#2"}, "gsi2pk": {"S": "EVENTS#2"}}),
        _token({**FORGED_KEY, "extra": {"S": "x"}}),
        base64.urlsafe_b64encode(b"[" * 3000).decode(),
        base64.urlsafe_b64encode(b'{"pk": {"S": "\\ud800"}}').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "array",
        "string",
        "sk-number-in-S",
        "sk-of-type-N",
        "sk-two-types",
        "sk-over-1024-bytes",
        "empty-sort-key",
        "another-instance",
        "extra-key",
        "nested-3000-deep",
        "lone-surrogate",
        "not-utf-8",
    ],
)
def test_a_forged_or_garbled_page_token_is_400(api, dated_log, token):
    status, body, _ = log_query(api, {"nextPage": token})

    assert status == 400, body
    assert body["errors"] == [{"field": "nextPage", "message": "invalid page token"}]


def test_a_well_formed_token_of_this_query_pages_on(api, dated_log):
    status, page, _ = log_query(api, {"nextPage": _token(FORGED_KEY)})

    assert status == 200, page
    assert [e["eventId"] for e in page] == ["day-25"]


def test_retrying_an_event_id_longer_than_any_given_out_is_404(api, aws, instance):
    assert post(api, f"/instances/1/events/{'e' * 2000}/retry")[0] == 404
