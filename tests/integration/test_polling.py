"""Polling (SPEC §7): schedules follow the instance, and every change reaches the queue exactly once.

The poller runs in-process with events/poller/scheduled_poll.json against the simulated Intercom on
loopback (real HTTP, its documented quirks switched on where a test says so); AWS is moto.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from intercom_events.logic import polling
from intercom_events.store import cursors

from local.lambda_runtime import LocalFunction
from tests.conftest import http_answer, load_event
from tests.integration.conftest import TOKEN


def run_poller(poller) -> dict[str, Any]:
    """One scheduled run, as the Lambda runtime would invoke it (a five-minute timeout)."""
    result: dict[str, Any] = LocalFunction("poller", poller.lambda_handler, timeout_seconds=300).invoke(
        load_event("poller/scheduled_poll.json")
    )
    return result


def take_events(aws) -> list[dict[str, Any]]:
    """Every event of every callback job on the queue (taken off it)."""
    sqs = aws.client("sqs")
    events = []
    while True:
        messages = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return events
        for message in messages:
            job = json.loads(message["Body"])
            assert job["source"] == "polling" and len(job["events"]) <= 10
            raw = job["raw"]
            assert raw["objectType"] in raw and isinstance(raw["pollDate"], int)
            assert {str(r["id"]) for r in raw[raw["objectType"]]} == {e["objectId"] for e in job["events"]}
            events.extend(job["events"])
            sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])


def versions(events: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    return Counter((e["objectType"], e["objectId"], e["date"]) for e in events)


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def schedule(aws, name: str = "instance-1") -> dict[str, Any]:
    group = aws.environment()["SCHEDULE_GROUP_NAME"]
    return dict(aws.client("scheduler").get_schedule(Name=name, GroupName=group))


# ---- schedules follow the instance ---------------------------------------------------------------------


def test_a_polling_instance_gets_a_schedule_at_its_refresh_interval(aws, polling_instance):
    found = schedule(aws)
    assert found["ScheduleExpression"] == "rate(15 minutes)"
    assert found["State"] == "ENABLED"
    assert json.loads(found["Target"]["Input"]) == {"instanceId": 1}
    assert found["Target"]["Arn"] == aws.environment()["POLLER_FUNCTION_ARN"]
    assert found["Target"]["DeadLetterConfig"]["Arn"] == aws.environment()["SCHEDULE_DLQ_ARN"]


def test_the_schedule_follows_patch_disable_enable_and_delete(api, aws, polling_instance):
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {"event.poller.refresh_interval": "5"}})
    assert http_answer(api, patch)[0] == 200
    assert schedule(aws)["ScheduleExpression"] == "rate(5 minutes)"
    http_answer(api, load_event("api/disable_instance.json"))
    assert schedule(aws)["State"] == "DISABLED"
    http_answer(api, load_event("api/enable_instance.json"))
    assert schedule(aws)["State"] == "ENABLED"
    http_answer(api, load_event("api/delete_instance.json"))
    with pytest.raises(ClientError, match="ResourceNotFound"):
        schedule(aws)


def test_a_webhook_instance_has_no_schedule(api, aws, workspace):
    http_answer(api, load_event("api/create_instance_token.json"))
    group = aws.environment()["SCHEDULE_GROUP_NAME"]
    assert aws.client("scheduler").list_schedules(GroupName=group)["Schedules"] == []


def test_poll_now_answers_202_and_schedules_one_poll_at_once(api, aws, polling_instance):
    status, body = http_answer(api, load_event("api/poll_instance.json"))
    assert status == 202 and body == {"instanceId": 1, "status": "scheduled"}
    group = aws.environment()["SCHEDULE_GROUP_NAME"]
    names = [s["Name"] for s in aws.client("scheduler").list_schedules(GroupName=group)["Schedules"]]
    [once] = [name for name in names if name.startswith("instance-1-now-")]
    found = schedule(aws, once)
    assert found["ScheduleExpression"].startswith("at(") and found["ActionAfterCompletion"] == "DELETE"


def test_a_bad_poller_configuration_is_refused_when_saved(api, aws, workspace):
    event = load_event("api/create_instance_polling_hub.json")
    body = json.loads(event["body"])
    body["configuration"]["event.poller.configuration"] = {
        "conversations": {"url": "/hubs/marketing/nothing"}
    }
    event["body"] = json.dumps(body)
    status, answer = http_answer(api, event)
    assert status == 400
    assert answer["errors"][0]["field"] == "configuration.event.poller.configuration.conversations"


# ---- every change once ---------------------------------------------------------------------------------


def test_the_first_poll_reports_what_changed_since_the_instance_was_created(
    aws, poller, workspace, polling_instance
):
    before = workspace.seed("contacts", 3, start=int(time.time()) - 3600)
    created = [workspace.create("contacts", email=f"new{i}@example.com") for i in range(3)]
    conversation = workspace.create("conversations")

    report = run_poller(poller)

    assert report["outcome"] == "done"
    events = take_events(aws)
    assert {(e["objectType"], e["objectId"]) for e in events} == {
        *(("contacts", c["id"]) for c in created),
        ("conversations", conversation["id"]),
    }
    assert {e["eventType"] for e in events} == {"CREATED"}
    assert not {c["id"] for c in before} & {e["objectId"] for e in events}
    assert all(e["pollDate"].endswith("Z") and e["elementKey"] == "intercom" for e in events)


def test_an_update_is_reported_once_as_updated(aws, poller, workspace, polling_instance):
    contact = workspace.create("contacts")
    run_poller(poller)
    take_events(aws)
    time.sleep(1.05)
    updated = workspace.update("contacts", contact["id"], name="Ada")

    run_poller(poller)
    run_poller(poller)  # nothing changed since: nothing more

    assert [(e["objectId"], e["eventType"], e["date"]) for e in take_events(aws)] == [
        (contact["id"], "UPDATED", iso(updated["updated_at"]))
    ]


def test_thousands_of_changes_in_the_same_seconds_each_arrive_once(aws, poller, workspace, polling_instance):
    now = int(time.time())
    made = workspace.seed("contacts", 1200, start=now, spacing=0.01)  # 100 a second, pages of 150

    run_poller(poller)
    run_poller(poller)

    events = take_events(aws)
    assert versions(events) == Counter(("contacts", c["id"], iso(c["updated_at"])) for c in made)


def test_a_poll_reads_only_the_pages_that_changed(aws, poller, intercom, workspace, polling_instance):
    workspace.seed("contacts", 3000, start=int(time.time()) - 7200)  # the quiet part of the workspace
    run_poller(poller)
    take_events(aws)
    for _ in range(5):
        workspace.create("contacts")
    before = len(intercom.requests)

    run_poller(poller)

    searches = [r for r in intercom.requests[before:] if r.path == "/contacts/search"]
    assert len(searches) == 1  # one page of 150 holds the five changes; 3,000 others stay unread
    assert len(take_events(aws)) == 5


def test_changes_made_between_pages_are_neither_lost_nor_repeated(aws, workspace, polling_instance):
    made = workspace.seed("contacts", 450, start=int(time.time()), spacing=0.001)  # newest first: made[0..]
    pages = 0

    def meddle(response: httpx.Response) -> None:
        nonlocal pages
        if response.request.url.path.endswith("/contacts/search"):
            pages += 1
            if pages == 1:  # a record already read vanishes: the rest shift back, one would be skipped
                workspace.delete("contacts", made[50]["id"])
            if pages == 2:  # a record not read yet changes: it jumps to the front, out of this pass
                workspace.update("contacts", made[400]["id"], name="changed mid-poll")

    with httpx.Client(event_hooks={"response": [meddle]}) as http:
        poll_once(http)

    # Within the one poll: the shrinking result set made it read the window again, so none is skipped.
    first = take_events(aws)
    alive = {c["id"] for c in made} - {made[50]["id"]}
    assert {e["objectId"] for e in first} >= alive
    time.sleep(1.05)
    poll_once()
    seen = versions(first + take_events(aws))
    assert max(seen.values()) == 1
    changed = workspace.get("contacts", made[400]["id"])
    assert ("contacts", changed["id"], iso(changed["updated_at"])) in seen


def test_rate_limits_and_server_errors_lose_nothing(aws, poller, intercom, workspace, polling_instance):
    made = workspace.seed("contacts", 400, start=int(time.time()), spacing=0.01)
    intercom.fail_next(429, 500, 503)

    report = run_poller(poller)

    assert report["outcome"] == "done"
    assert versions(take_events(aws)) == Counter(("contacts", c["id"], iso(c["updated_at"])) for c in made)


def test_a_poll_stopped_halfway_resumes_and_delivers_everything_once(aws, workspace, polling_instance):
    made = workspace.seed("contacts", 600, start=int(time.time()), spacing=0.001)
    pages = 0

    def count(response: httpx.Response) -> None:
        nonlocal pages
        pages += response.request.url.path.endswith("/search")

    def time_left() -> float:  # Lambda's clock runs out after two pages
        return 300.0 if pages < 2 else 5.0

    with httpx.Client(event_hooks={"response": [count]}) as http:
        first = polling.poll(1, time_left=time_left, owner="run-1", http=http)
    assert first.outcome == "partial"
    assert cursors.load(1, "contacts").resume is not None
    events = take_events(aws)
    assert 0 < len(events) < 600

    second = poll_once()

    assert second.outcome == "done"
    events += take_events(aws)
    assert versions(events) == Counter(("contacts", c["id"], iso(c["updated_at"])) for c in made)
    assert cursors.load(1, "contacts").resume is None


def test_two_polls_of_one_instance_never_run_at_once(aws, workspace, polling_instance):
    assert cursors.acquire_lock(1, "another-run", time.time(), lease_seconds=60)
    report = poll_once(owner="this-run")
    assert report.outcome == "busy"
    cursors.release_lock(1, "another-run")
    assert poll_once(owner="this-run").outcome == "done"


def test_late_searchable_contacts_are_caught_by_the_next_poll(aws, workspace, polling_instance):
    workspace.index_lag_seconds = 2.0
    poll_once()  # the cursor exists: later windows reach back over Intercom's indexing lag
    contact = workspace.create("contacts")
    poll_once()
    assert take_events(aws) == []  # created, but not searchable yet
    time.sleep(2.2)

    poll_once()

    assert [e["objectId"] for e in take_events(aws)] == [contact["id"]]


def test_a_revoked_token_marks_the_instance_and_keeps_the_cursor(aws, intercom, workspace, polling_instance):
    workspace.create("contacts")
    poll_once()
    take_events(aws)
    kept = cursors.load(1, "contacts")
    intercom.revoke_token(TOKEN)
    workspace.create("contacts")

    report = poll_once()

    assert report.outcome == "unauthorized"
    assert cursors.status(1)["outcome"] == "unauthorized"
    assert cursors.load(1, "contacts").since == kept.since
    intercom.issue_token(token=TOKEN)
    assert poll_once().outcome == "done"
    assert len(take_events(aws)) == 1  # the change made while refused, once


def test_companies_are_scrolled(aws, workspace, polling_instance):
    workspace.seed("companies", 120, start=int(time.time()) - 7200)
    fresh = [workspace.create("companies", name=f"Fresh {i}") for i in range(3)]

    poll_once()

    assert sorted(e["objectId"] for e in take_events(aws)) == sorted(c["id"] for c in fresh)


def test_the_open_connectors_documentation_configuration_works_unchanged(api, aws, poller, workspace):
    status, body = http_answer(api, load_event("api/create_instance_polling_hub.json"))
    assert status == 200, body
    time.sleep(1.05)
    conversation = workspace.create("conversations")
    workspace.create("contacts")  # not configured: not polled

    run_poller(poller)

    assert [(e["objectType"], e["objectId"], e["eventType"]) for e in take_events(aws)] == [
        ("conversations", conversation["id"], "CREATED")
    ]


def poll_once(http: httpx.Client | None = None, owner: str = "test") -> polling.PollReport:
    clock: Callable[[], float] = lambda: 300.0  # noqa: E731 - a Lambda with time to spare
    return polling.poll(1, time_left=clock, owner=owner, http=http)
