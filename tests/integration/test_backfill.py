"""Backfill on purpose (issue #9): read an instance's resources again from a date and send each record's
current version once, marked as a backfill, beside the scheduled polls and without touching their cursor.

The backfill's runs are invoked in-process as its every-minute schedule would invoke the poller; the
simulated workspace gives Intercom-shaped ids and records changed before the instance existed.
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from intercom_events.logic import backfill, polling
from intercom_events.store import backfills, cursors

from local.lambda_runtime import LocalFunction
from local.queue_worker import QueueWorker
from tests.conftest import http_answer, load_event
from tests.integration.test_polling import iso, poll_once, schedule

DAY = 86400


def request(name: str, body: Any = None, instance_id: int = 1) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"api/{name}.json"))
    path = f"/elements/api-v2/instances/{instance_id}/backfill"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def start(api, since: float, resources: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"since": iso(int(since))}
    if resources is not None:
        body["resources"] = resources
    status, answer = http_answer(api, request("start_backfill", body))
    assert status == 202, answer
    return answer


def run(run_id: str, time_left: Callable[[], float] = lambda: 300.0, http: Any = None) -> dict[str, Any]:
    return backfill.run(1, run_id, time_left=time_left, owner=f"run-{time.monotonic()}", http=http)


def take_jobs(aws) -> list[dict[str, Any]]:
    """Every callback job on the queue (taken off it)."""
    sqs = aws.client("sqs")
    jobs = []
    while messages := sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            jobs.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return jobs


def sent(jobs: list[dict[str, Any]], source: str) -> Counter[tuple[str, str]]:
    """(objectId, date) of every event the jobs of `source` carry, counted."""
    return Counter(
        (e["objectId"], e["date"]) for job in jobs if job["source"] == source for e in job["events"]
    )


def backfill_scheduled(aws) -> bool:
    try:
        schedule(aws, "instance-1-backfill")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
        return False
    return True


def cursor_item(aws) -> dict[str, Any] | None:
    answer = aws.client("dynamodb").get_item(
        TableName=aws.table_name, Key={"pk": {"S": "INSTANCE#1"}, "sk": {"S": "CURSOR#contacts"}}
    )
    return answer.get("Item")


# ---- what a backfill sends -----------------------------------------------------------------------------


def test_each_record_changed_since_the_date_is_sent_once_in_its_current_version(
    aws, api, workspace, polling_instance
):
    now = int(time.time())
    old = workspace.seed("contacts", 40, start=now - 30 * DAY, spacing=60)  # before the date: not sent
    recent = workspace.seed("contacts", 300, start=now - 5 * DAY, spacing=600)  # before the instance too
    twice = [r["id"] for r in recent[:50]]
    current = {r["id"]: r for r in workspace.bulk_update("contacts", twice, at=now - DAY, name="Synced")}
    expected = Counter((r["id"], iso(int(current.get(r["id"], r)["updated_at"]))) for r in recent)

    answer = start(api, now - 10 * DAY, ["contacts"])
    report = run(answer["id"])

    assert report["outcome"] == "done", report
    jobs = take_jobs(aws)
    assert sent(jobs, "backfill") == expected  # each once, the record's current version
    assert not {r["id"] for r in old} & {oid for oid, _ in sent(jobs, "backfill")}
    assert all(job["backfillId"] == answer["id"] and len(job["events"]) <= 10 for job in jobs)
    assert all(e["pollDate"] == answer["until"] for job in jobs for e in job["events"])
    status, state = http_answer(api, request("get_backfill"))
    assert status == 200 and state["status"] == "done" and state["finished"] == ["contacts"]
    assert state["events"] == {"contacts": 300} and state["finishedDate"]
    assert not backfill_scheduled(aws)


def test_a_backfill_of_every_resource_reads_each_the_instance_polls(aws, api, workspace, polling_instance):
    now = int(time.time())
    made = {
        name: workspace.seed(name, 3, start=now - DAY, spacing=1)
        for name in ("contacts", "conversations", "companies", "tickets")
    }

    answer = start(api, now - 2 * DAY)  # no resources named: all the instance polls

    assert sorted(answer["resources"]) == sorted(made)
    assert run(answer["id"])["outcome"] == "done"
    jobs = take_jobs(aws)
    by_type = Counter(e["objectType"] for job in jobs for e in job["events"])
    assert by_type == Counter({name: 3 for name in made})


def test_a_backfill_marks_its_callbacks_and_its_event_log_entries(api, aws, dispatcher, workspace, receiver):
    create = load_event("api/create_instance_polling.json")
    body = json.loads(create["body"])
    body["configuration"]["event.notification.callback.url"] = f"{receiver.url}/callbacks"
    create["body"] = json.dumps(body)
    assert http_answer(api, create)[0] == 200
    time.sleep(1.05)
    [record] = workspace.seed("contacts", 1, start=int(time.time()) - DAY)
    answer = start(api, time.time() - 2 * DAY, ["contacts"])
    assert run(answer["id"])["outcome"] == "done"

    QueueWorker(dispatcher.lambda_handler, aws.queue_url, endpoint_url=None, wait_seconds=0).drain()  # type: ignore[arg-type]

    [callback] = receiver.wait_for(1)
    message = callback.json()["message"]
    assert message["backfill"] == {"id": answer["id"]}
    assert [e["objectId"] for e in message["events"]] == [record["id"]]
    events = load_event("api/get_instance.json")
    events["rawPath"] = events["requestContext"]["http"]["path"] = "/elements/api-v2/instances/1/events"
    status, log = http_answer(api, events)
    assert status == 200 and [(e["source"], e["status"]) for e in log] == [("backfill", "delivered")]


# ---- beside the scheduled polls ------------------------------------------------------------------------


def test_a_backfill_runs_beside_the_polls_and_leaves_their_cursor_and_their_sends_alone(
    aws, api, workspace, polling_instance
):
    now = int(time.time())
    before = workspace.seed("contacts", 200, start=now - 3 * DAY, spacing=60)
    after = workspace.seed("contacts", 20, start=now, spacing=0)  # after the instance: the polls' to send
    assert poll_once().outcome == "done"
    assert sent(take_jobs(aws), "polling") == Counter((r["id"], iso(r["updated_at"])) for r in after)
    cursor = cursor_item(aws)

    answer = start(api, now - 4 * DAY, ["contacts"])
    pages = 0

    def count(response: httpx.Response) -> None:
        nonlocal pages
        pages += response.request.url.path.endswith("/search")

    # The first run stops for time after one page (the newest 150); the polls go on meanwhile.
    with httpx.Client(event_hooks={"response": [count]}) as http:
        first = run(answer["id"], lambda: 300.0 if pages < 1 else polling.STOP_MARGIN_SECONDS + 3, http)
    assert first["outcome"] == "partial" and first["events"] == {"contacts": 150}
    assert cursor_item(aws) == cursor  # the polls' cursor is not the backfill's to touch
    assert poll_once().outcome == "done"
    jobs = take_jobs(aws)
    assert sent(jobs, "polling") == Counter()  # and what the backfill sent is not the poll's business
    # Five records the backfill has not reached yet change after it was asked for.
    changed = workspace.bulk_update("contacts", [r["id"] for r in before[:5]], at=int(time.time()) + 1)
    time.sleep(1.1)
    assert run(answer["id"])["outcome"] == "done"
    assert poll_once().outcome == "done"
    jobs += take_jobs(aws)

    backfilled = sent(jobs, "backfill")
    # Every record changed up to when the backfill was asked for went out once, in its version then; the
    # five changed later are the poll's, in their new version, and the backfill left them to it.
    assert backfilled == Counter((r["id"], iso(r["updated_at"])) for r in before[5:] + after)
    assert sent(jobs, "polling") == Counter((r["id"], iso(r["updated_at"])) for r in changed)
    assert cursors.load(1, "contacts").since > cursor_since(cursor)  # the poll's own cursor moved on


def test_a_record_changed_after_the_backfill_was_asked_for_is_left_to_the_polls(
    aws, api, workspace, polling_instance
):
    now = int(time.time())
    made = workspace.seed("contacts", 20, start=now - DAY, spacing=1)
    answer = start(api, now - 2 * DAY, ["contacts"])
    time.sleep(1.05)
    changed = workspace.bulk_update("contacts", [r["id"] for r in made[:3]], name="Changed")

    assert run(answer["id"])["outcome"] == "done"
    assert poll_once().outcome == "done"

    jobs = take_jobs(aws)
    assert sent(jobs, "backfill") == Counter((r["id"], iso(r["updated_at"])) for r in made[3:])
    assert sent(jobs, "polling") == Counter((r["id"], iso(r["updated_at"])) for r in changed)


def cursor_since(item: dict[str, Any]) -> float:
    return float(item["since"]["N"])


def test_a_run_cut_short_resumes_where_it_stopped_and_sends_nothing_twice(
    aws, api, workspace, polling_instance
):
    now = int(time.time())
    made = workspace.seed("contacts", 700, start=now - 2 * DAY, spacing=30)
    answer = start(api, now - 3 * DAY, ["contacts"])
    runs = []
    pages = Counter[str]()

    def count(response: httpx.Response) -> None:
        pages["run"] += response.request.url.path.endswith("/search")

    for _ in range(10):
        pages.clear()
        with httpx.Client(event_hooks={"response": [count]}) as http:
            report = run(
                answer["id"], lambda: 300.0 if pages["run"] < 2 else polling.STOP_MARGIN_SECONDS + 3, http
            )
        runs.append(report["outcome"])
        if report["outcome"] == "done":
            break

    assert runs[0] == "partial" and runs[-1] == "done" and len(runs) > 2
    assert sent(take_jobs(aws), "backfill") == Counter((r["id"], iso(r["updated_at"])) for r in made)
    assert backfills.load(1)["events"] == {"contacts": 700}


def test_a_second_run_while_one_holds_the_lease_is_busy_and_sends_nothing(
    aws, api, workspace, polling_instance
):
    workspace.seed("contacts", 5, start=int(time.time()) - DAY)
    answer = start(api, time.time() - 2 * DAY, ["contacts"])
    assert cursors.acquire_lock(1, "another-run", time.time(), 60, lock=cursors.BACKFILL_LOCK)

    assert run(answer["id"])["outcome"] == "busy"
    assert take_jobs(aws) == []
    # the scheduled polls have their own lease: a backfill under way does not hold them up
    assert poll_once().outcome == "done"


# ---- the route -------------------------------------------------------------------------------------------


def test_the_route_answers_202_and_schedules_a_run_every_minute(aws, api, polling_instance):
    answer = start(api, time.time() - DAY, ["contacts"])

    assert answer["status"] == "running" and answer["resources"] == ["contacts"] and answer["events"] == {}
    found = schedule(aws, "instance-1-backfill")
    assert found["ScheduleExpression"] == "rate(1 minute)" and found["State"] == "ENABLED"
    assert json.loads(found["Target"]["Input"]) == {"instanceId": 1, "backfill": answer["id"]}
    assert found["Target"]["Arn"] == aws.environment()["POLLER_FUNCTION_ARN"]


def test_a_second_backfill_while_one_runs_is_409_and_one_that_went_silent_is_replaced(
    aws, api, polling_instance
):
    first = start(api, time.time() - DAY, ["contacts"])

    status, answer = http_answer(api, request("start_backfill", {"since": iso(int(time.time()) - DAY)}))
    assert status == 409 and first["id"] in answer["message"]

    aws.client("dynamodb").update_item(  # no checkpoint for longer than STALE_SECONDS: its schedule was lost
        TableName=aws.table_name,
        Key={"pk": {"S": "INSTANCE#1"}, "sk": {"S": "BACKFILL"}},
        UpdateExpression="SET updatedAt = :old",
        ExpressionAttributeValues={":old": {"N": str(time.time() - backfill.STALE_SECONDS - 1)}},
    )
    second = start(api, time.time() - DAY, ["contacts"])
    assert second["id"] != first["id"]
    assert run(first["id"])["outcome"] == "skipped"  # the old run's id finds nothing to do
    assert json.loads(schedule(aws, "instance-1-backfill")["Target"]["Input"])["backfill"] == second["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since": "2999-01-01T00:00:00Z"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({}, "since"),
        ({"since": "2026-11-01T00:00:00Z", "resources": ["deals"]}, "resources"),
        ({"since": "2026-11-01T00:00:00Z", "resources": []}, "resources"),
        ({"since": "2026-11-01T00:00:00Z", "until": "2026-11-02T00:00:00Z"}, "until"),
    ],
)
def test_a_bad_request_is_400_naming_the_field_and_starts_nothing(aws, api, polling_instance, body, field):
    status, answer = http_answer(api, request("start_backfill", body))

    assert status == 400, answer
    assert field in {e["field"] for e in answer["errors"]}
    assert http_answer(api, request("get_backfill"))[0] == 404


def test_another_users_instance_and_a_missing_one_are_404(api, polling_instance):
    assert (
        http_answer(api, request("start_backfill", {"since": "2026-11-01T00:00:00Z"}, instance_id=2))[0]
        == 404
    )
    other = request("start_backfill", {"since": "2026-11-01T00:00:00Z"})
    other["headers"]["authorization"] = "User other-user, Organization dev-organization-secret"
    assert http_answer(api, other)[0] in (401, 404)


def test_cancelling_stops_the_backfill_at_its_next_checkpoint_and_removes_its_schedule(
    aws, api, workspace, polling_instance
):
    workspace.seed("contacts", 30, start=int(time.time()) - DAY, spacing=1)
    answer = start(api, time.time() - 2 * DAY, ["contacts"])

    status, cancelled = http_answer(api, request("cancel_backfill"))

    assert status == 200 and cancelled["status"] == "cancelled" and cancelled["reason"]
    assert not backfill_scheduled(aws)
    assert run(answer["id"])["outcome"] == "skipped"
    assert take_jobs(aws) == []


def test_a_run_for_a_disabled_instance_cancels_the_backfill(aws, api, workspace, polling_instance):
    answer = start(api, time.time() - DAY, ["contacts"])
    assert http_answer(api, load_event("api/disable_instance.json"))[0] == 200

    assert run(answer["id"])["outcome"] == "cancelled"

    assert backfills.load(1)["status"] == "cancelled"
    assert not backfill_scheduled(aws)


def test_the_poller_sample_event_runs_a_backfill(api, poller, workspace, polling_instance):
    workspace.seed("contacts", 3, start=int(time.time()) - DAY, spacing=1)
    answer = start(api, time.time() - 2 * DAY, ["contacts"])
    function = LocalFunction("poller", poller.lambda_handler, timeout_seconds=300)
    sample = load_event("poller/backfill_run.json")

    assert function.invoke(sample)["outcome"] == "skipped"  # the sample's id names no backfill here
    report = function.invoke({**sample, "backfill": answer["id"]})

    assert report["outcome"] == "done" and report["events"] == {"contacts": 3}
