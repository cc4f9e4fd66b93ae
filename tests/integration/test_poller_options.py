"""Every `event.poller.configuration` option in a poll (SPEC §7): each changes what reaches the queue.

An instance is created through the API with its own configuration; the poller runs in-process against
the simulated Intercom on loopback; AWS is moto. Each test polls more than once and asserts what was
sent, once. (`filterByUpdatedDate` off, and date formats and zones held to the creation time, are in
test_polling_floor.py.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from intercom_events.logic import polling

from tests.integration.conftest import create_polling
from tests.integration.test_polling import iso

OPEN = "state%20%3D%20'open'"  # `state = 'open'`, as a url carries it


def poll(http: httpx.Client | None = None, now: Callable[[], float] = time.time) -> polling.PollReport:
    report = polling.poll(1, time_left=lambda: 300.0, owner="test", now=now, http=http)
    assert report.outcome == "done", report
    return report


def take_jobs(aws) -> list[dict[str, Any]]:
    """Every callback job on the queue (taken off it)."""
    sqs = aws.client("sqs")
    jobs = []
    while messages := sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            jobs.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return jobs


def sent(aws) -> list[tuple[str, str, str]]:
    """(objectId, eventType, date) of every event sent, in order."""
    return [(e["objectId"], e["eventType"], e["date"]) for job in take_jobs(aws) for e in job["events"]]


def searches(intercom, path: str = "/conversations/search") -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in intercom.requests if r.path == path]


def test_a_where_clause_on_a_hub_url_sends_only_the_records_it_matches(api, aws, intercom, workspace):
    create_polling(api, {"conversations": {"url": f"/hubs/marketing/conversations?where={OPEN}"}})
    opened = workspace.create("conversations")
    workspace.create("conversations", state="closed", open=False)

    poll()
    poll()

    assert sent(aws) == [(opened["id"], "CREATED", iso(opened["updated_at"]))]
    query = searches(intercom)[0]["query"]
    assert (
        query["operator"] == "AND" and {"field": "state", "operator": "=", "value": "open"} in query["value"]
    )


@pytest.mark.parametrize(("poll_delay", "caught"), [(600, True), (0, False)])
def test_poll_delay_reaches_back_for_a_change_that_showed_up_late(api, aws, workspace, poll_delay, caught):
    """The poller's clock is five minutes ahead of the record's stamp: a change stamped before the last
    pass began, that the pass did not see, is caught by the next window only as far as pollDelay reaches."""
    create_polling(api, {"conversations": {"url": "/conversations/search", "pollDelay": poll_delay}})
    ahead = time.time() + 300
    poll(now=lambda: ahead)
    late = workspace.create("conversations")  # stamped now: 300 s before that pass, past the 120 s lag

    poll(now=lambda: ahead + 10)
    poll(now=lambda: ahead + 20)

    assert sent(aws) == ([(late["id"], "CREATED", iso(late["updated_at"]))] if caught else [])


@pytest.mark.parametrize("filter_by_current_date", [True, False])
def test_filter_by_current_date_leaves_a_change_made_during_the_pass_to_the_next_poll(
    api, aws, workspace, filter_by_current_date
):
    create_polling(
        api,
        {"conversations": {"url": "/conversations/search", "filterByCurrentDate": filter_by_current_date}},
    )
    record = workspace.create("conversations")
    changed: dict[str, Any] = {}

    def change_while_reading(request: httpx.Request) -> None:
        if request.url.path.endswith("/search") and not changed:  # the pass has begun: until is set
            changed.update(workspace.update("conversations", record["id"], updated_at=int(time.time()) + 1))

    with httpx.Client(event_hooks={"request": [change_while_reading]}) as http:
        poll(http)
    first = sent(aws)
    while time.time() < changed["updated_at"] + 0.05:  # the next pass begins after the change
        time.sleep(0.05)
    poll()

    version = (record["id"], "UPDATED", iso(changed["updated_at"]))
    assert (first, sent(aws)) == (([], [version]) if filter_by_current_date else ([version], []))


@pytest.mark.parametrize(("tolerance", "kind"), [(5, "CREATED"), (0, "UPDATED")])
def test_created_check_tolerance_counts_a_record_updated_just_after_its_creation_as_created(
    api, aws, workspace, tolerance, kind
):
    create_polling(
        api, {"conversations": {"url": "/conversations/search", "createdCheckTolerance": tolerance}}
    )
    now = int(time.time())
    record = workspace.create("conversations", created_at=now - 3, updated_at=now)

    poll()
    poll()

    assert sent(aws) == [(record["id"], kind, iso(now))]


def test_a_dotted_id_field_names_the_object_and_sends_each_version_once(api, aws, workspace):
    create_polling(api, {"conversations": {"url": "/conversations/search", "idField": "source.id"}})
    record = workspace.create("conversations")
    poll()
    time.sleep(1.05)
    updated = workspace.update("conversations", record["id"], title="renamed")

    poll()
    poll()

    source_id = record["source"]["id"]
    assert source_id != record["id"]
    assert sent(aws) == [
        (source_id, "CREATED", iso(record["updated_at"])),
        (source_id, "UPDATED", iso(updated["updated_at"])),
    ]


def test_dates_in_a_java_pattern_and_iso_read_in_their_configured_zones(api, aws, workspace):
    """Intercom cannot filter a text field by date: the where clause picks, the poller reads the dates."""
    zone = "America/New_York"
    dates = {
        "updatedDateField": "custom_attributes.changed",
        "updatedDateFormat": "yyyy-MM-dd HH:mm:ss",
        "updatedDateTimezone": zone,
        "createdDateField": "custom_attributes.opened",
        "createdDateFormat": "iso8601",
        "createdDateTimezone": "+05:30",
    }
    create_polling(
        api,
        {
            "conversations": {
                "url": f"/conversations/search?where={OPEN}",
                "filterByUpdatedDate": False,
                "datesConfiguration": dates,
            }
        },
    )
    instant = int(time.time())
    wall = datetime.fromtimestamp(instant, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")
    in_kolkata = datetime.fromtimestamp(instant, ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%dT%H:%M:%S")
    earlier = datetime.fromtimestamp(instant - 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    new = workspace.create("conversations", custom_attributes={"changed": wall, "opened": in_kolkata})
    old = workspace.create("conversations", custom_attributes={"changed": wall, "opened": earlier})

    poll()
    poll()

    assert sorted(sent(aws)) == sorted(
        [(new["id"], "CREATED", iso(instant)), (old["id"], "UPDATED", iso(instant))]
    )


def test_page_size_sets_the_pages_read_and_every_record_goes_out_once(api, aws, intercom, workspace):
    create_polling(api, {"conversations": {"url": "/conversations/search", "pageSize": 2}})
    made = workspace.seed("conversations", 5, start=int(time.time()), spacing=0.001)

    poll()
    poll()

    assert sorted(object_id for object_id, _, _ in sent(aws)) == sorted(c["id"] for c in made)
    assert {body["pagination"]["per_page"] for body in searches(intercom)} == {2}
    assert len(searches(intercom)) >= 3 + 1  # five records at two a page, then the second poll
