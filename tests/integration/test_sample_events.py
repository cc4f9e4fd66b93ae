"""Every sample event in events/ works as `sam local invoke -e` would use it: invoked with its handler
against instance 1 as its create event makes it, each gives the answer its route promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.lambda_runtime import LocalFunction
from tests.conftest import http_answer, invoke, load_event

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted(path.relative_to(ROOT / "events").as_posix() for path in (ROOT / "events").rglob("*.json"))

WEBHOOK = "api/create_instance_token.json"
POLLING = "api/create_instance_polling.json"
BACKFILL = "api/start_backfill.json"
# Each API sample event: the events that make instance 1 (and what else it needs) first, and the status
# it answers. A sample event without a line here fails the test that lists them.
API_ANSWERS: dict[str, tuple[tuple[str, ...], int]] = {
    "api/health.json": ((), 200),
    "api/openapi.json": ((), 200),
    "api/oauth_url.json": ((), 200),
    "api/create_instance.json": ((), 200),
    "api/create_instance_token.json": ((), 200),
    "api/create_instance_polling.json": ((), 200),
    "api/create_instance_polling_hub.json": ((), 200),
    "api/get_instance.json": ((WEBHOOK,), 200),
    "api/list_instances.json": ((WEBHOOK,), 200),
    "api/patch_instance.json": ((WEBHOOK,), 200),
    "api/enable_instance.json": ((WEBHOOK,), 200),
    "api/disable_instance.json": ((WEBHOOK,), 200),
    "api/delete_instance.json": ((WEBHOOK,), 200),
    "api/poll_instance.json": ((POLLING,), 202),
    "api/start_backfill.json": ((POLLING,), 202),
    "api/get_backfill.json": ((POLLING, BACKFILL), 200),
    "api/cancel_backfill.json": ((POLLING, BACKFILL), 200),
    "api/webhook_head.json": ((WEBHOOK,), 200),
    "api/webhook_ping.json": ((WEBHOOK,), 200),
    "api/webhook_contact_created.json": ((WEBHOOK,), 200),
    "api/webhook_conversation_admin_replied.json": ((WEBHOOK,), 200),
}
# poller/backfill_run.json: tests/integration/test_backfill.py::test_the_poller_sample_event_runs_a_backfill
OTHERS = {
    "dispatcher/batch.json",
    "dispatcher/breaker_probe.json",
    "poller/scheduled_poll.json",
    "poller/backfill_run.json",
}


def test_every_function_has_sample_events_and_each_is_tried_below() -> None:
    functions = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))
    assert {name.split("/")[0] for name in EVENTS} == set(functions)
    assert set(EVENTS) == set(API_ANSWERS) | OTHERS


@pytest.mark.parametrize("name", sorted(API_ANSWERS))
def test_the_api_sample_event_gets_its_answer(api, aws, workspace, name: str) -> None:
    needs, expected = API_ANSWERS[name]
    for first in needs:
        status, answer = http_answer(api, load_event(first))
        if first == BACKFILL:
            assert (status, answer["status"]) == (202, "running"), answer
        else:
            assert (status, answer["id"]) == (200, 1), answer

    status, answer = http_answer(api, load_event(name))

    assert status == expected, answer
    if name.startswith("api/webhook_") and name != "api/webhook_head.json":
        queued = aws.client("sqs").receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)
        jobs = [json.loads(m["Body"]) for m in queued.get("Messages", [])]
        if name == "api/webhook_ping.json":
            assert (answer["status"], jobs) == ("ping", [])
        else:
            assert answer["status"] == "accepted" and [job["instanceId"] for job in jobs] == [1]


def test_the_dispatcher_sample_batch_is_delivered(api, dispatcher, receiver) -> None:
    assert http_answer(api, load_event(WEBHOOK))[0] == 200
    # The sample's callback host is app.example.com; the test's receiver listens on loopback.
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {"event.notification.callback.url": receiver.url}})
    assert http_answer(api, patch)[0] == 200
    batch = load_event("dispatcher/batch.json")

    answer = invoke(dispatcher, batch, "dispatcher")

    assert answer == {"batchItemFailures": []}
    [callback] = receiver.requests
    job = json.loads(batch["Records"][0]["body"])
    assert callback.json()["message"]["eventId"] == job["eventId"]


def test_the_dispatcher_sample_breaker_probe_sends_the_oldest_parked_event(api, dispatcher, receiver) -> None:
    from datetime import UTC, datetime, timedelta

    from intercom_events.models.events import CallbackJob
    from intercom_events.store import breaker, deliveries

    from tests.conftest import callback_job

    assert http_answer(api, load_event(WEBHOOK))[0] == 200
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {"event.notification.callback.url": receiver.url}})
    assert http_answer(api, patch)[0] == 200
    now = datetime.now(UTC)
    job = CallbackJob.model_validate(callback_job("notif_parked"))
    body = job.model_dump_json(exclude_none=True)
    deliveries.record(job, "queued", now, None, "circuit breaker open", message_body=body)
    assert breaker.open_breaker(1, now - timedelta(seconds=61), now - timedelta(seconds=1)) is not None

    answer = invoke(dispatcher, load_event("dispatcher/breaker_probe.json"), "dispatcher")

    assert answer == {"batchItemFailures": []}
    [callback] = receiver.requests
    assert callback.json()["message"]["eventId"] == job.eventId
    assert "breaker" not in deliveries.state(1)


def test_the_poller_sample_event_polls_instance_1(api, poller, workspace) -> None:
    assert http_answer(api, load_event(POLLING))[0] == 200

    report = LocalFunction("poller", poller.lambda_handler, timeout_seconds=300).invoke(
        load_event("poller/scheduled_poll.json")
    )

    assert report["instanceId"] == 1 and report["outcome"] == "done", report
