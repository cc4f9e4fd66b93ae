"""Polling reports only what changed after the instance existed (SPEC §7).

No scheduled poll, first or later, sends a version changed before the instance was created (or before
polling was turned on for it): not through the look-back overlap, `pollDelay`, a whole-day contact
search, a resource read without the updated-date filter, a configured date format and zone, cursors an
operator deleted, or a poll asked for now. Records are stamped one minute and one second before the
creation second, in it, and one second after; Intercom's precision is the second, so a change in the
creation second counts as made at creation.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from intercom_events.store import cursors

from local.lambda_runtime import LocalFunction
from tests.conftest import http_answer, load_event
from tests.integration.conftest import create_polling
from tests.integration.test_polling import iso, poll_once, run_poller, schedule, take_events

OFFSETS = (-60, -1, 0, 1)  # seconds from the creation second
SENT = (0, 1)


def stamp(workspace, resource: str, created: int) -> dict[int, str]:
    """One record per offset, created long before and last changed at creation + offset: offset -> id."""
    return {
        offset: workspace.create(resource, created_at=created - 86400, updated_at=created + offset)["id"]
        for offset in OFFSETS
    }


def assert_sent_once_from_creation(events: list[dict[str, Any]], made: dict[int, str], created: int) -> None:
    sent = Counter((e["objectId"], e["date"]) for e in events)
    assert sent == Counter((made[offset], iso(created + offset)) for offset in SENT)


@pytest.mark.parametrize("resource", ["contacts", "conversations", "tickets", "companies"])
def test_no_poll_sends_a_change_from_before_the_instance_existed(api, aws, poller, workspace, resource):
    created = create_polling(api)
    made = stamp(workspace, resource, created)

    for _ in range(3):  # the later polls' windows reach back over Intercom's lag, past the creation
        assert run_poller(poller)["outcome"] == "done"

    assert_sent_once_from_creation(take_events(aws), made, created)


def test_poll_delay_and_deleted_cursors_do_not_reach_behind_creation(api, aws, workspace):
    created = create_polling(api, {"conversations": {"url": "/conversations/search", "pollDelay": 3600}})
    made = stamp(workspace, "conversations", created)

    poll_once()
    aws.client("dynamodb").delete_item(  # an operator starts the resource over
        TableName=aws.environment()["TABLE_NAME"],
        Key={"pk": {"S": "INSTANCE#1"}, "sk": {"S": "CURSOR#conversations"}},
    )
    poll_once()
    poll_once()

    events = take_events(aws)
    assert {e["objectId"] for e in events} == {made[offset] for offset in SENT}
    assert not {made[-60], made[-1]} & {e["objectId"] for e in events}


def test_a_resource_read_without_the_updated_filter_sends_nothing_from_before(api, aws, workspace):
    created = create_polling(
        api,
        {
            "conversations": {
                "url": "/hubs/marketing/conversations?where=state%20%3D%20'open'",
                "filterByUpdatedDate": False,
            }
        },
    )
    made = stamp(workspace, "conversations", created)
    undated = workspace.create("conversations", updated_at=None)  # nothing says when it changed: skipped

    poll_once()
    poll_once()

    events = take_events(aws)
    assert_sent_once_from_creation(events, made, created)
    assert undated["id"] not in {e["objectId"] for e in events}


@pytest.mark.parametrize(
    ("pattern", "zone"),
    [("yyyy-MM-dd HH:mm:ss", "America/New_York"), ("dd/MM/yyyy'T'HH:mm:ssXXX", "Asia/Kolkata")],
)
def test_dates_in_a_configured_format_and_zone_are_held_to_the_creation_time(
    api, aws, workspace, pattern, zone
):
    dates = {"updatedDateField": "changed", "updatedDateFormat": pattern, "updatedDateTimezone": zone}
    created = create_polling(
        api,
        {
            "conversations": {
                "url": "/conversations/search?where=state%20%3D%20'open'",
                "filterByUpdatedDate": False,  # Intercom cannot filter a text field by date
                "datesConfiguration": dates,
            }
        },
    )
    local = ZoneInfo(zone)
    made = {}
    for offset in OFFSETS:
        moment = datetime.fromtimestamp(created + offset, local)
        text = moment.strftime("%Y-%m-%d %H:%M:%S" if " " in pattern else "%d/%m/%YT%H:%M:%S")
        text += "" if " " in pattern else moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]
        made[offset] = workspace.create("conversations", changed=text)["id"]

    poll_once()
    poll_once()

    assert_sent_once_from_creation(take_events(aws), made, created)


def test_a_date_only_version_of_the_creation_day_is_not_sent(api, aws, workspace):
    """A day tells only that the record changed that day, maybe before the instance existed."""
    dates = {"updatedDateField": "changed", "updatedDateFormat": "yyyy-MM-dd"}
    created = create_polling(
        api,
        {
            "conversations": {
                "url": "/conversations/search?where=state%20%3D%20'open'",
                "filterByUpdatedDate": False,
                "datesConfiguration": dates,
            }
        },
    )
    day = datetime.fromtimestamp(created, UTC)
    for days_before in (1, 0):
        workspace.create(
            "conversations", changed=day.fromordinal(day.toordinal() - days_before).strftime("%Y-%m-%d")
        )

    poll_once()
    poll_once()

    assert take_events(aws) == []


def test_poll_now_sends_nothing_from_before_creation(api, aws, poller, workspace):
    created = create_polling(api)
    made = stamp(workspace, "conversations", created)
    run_poller(poller)

    status, _ = http_answer(api, load_event("api/poll_instance.json"))
    assert status == 202
    group = aws.environment()["SCHEDULE_GROUP_NAME"]
    names = [s["Name"] for s in aws.client("scheduler").list_schedules(GroupName=group)["Schedules"]]
    [once] = [name for name in names if name.startswith("instance-1-now-")]
    # The one-time schedule fires the poller with its input, as the scheduled one does.
    target_input = json.loads(schedule(aws, once)["Target"]["Input"])
    LocalFunction("poller", poller.lambda_handler, timeout_seconds=300).invoke(target_input)

    assert_sent_once_from_creation(take_events(aws), made, created)


def test_an_instance_turned_to_polling_later_sends_only_what_changed_after(api, aws, workspace):
    """A webhook instance delivered its changes by webhooks: polling starts when it is turned on."""
    status, answer = http_answer(api, load_event("api/create_instance_token.json"))
    assert status == 200, answer
    time.sleep(1.05)
    by_webhook = workspace.create("conversations")
    time.sleep(1.05)
    switch = load_event("api/patch_instance.json")
    switch["body"] = json.dumps({"configuration": {"event.vendor.type": "polling"}})
    assert http_answer(api, switch)[0] == 200
    time.sleep(1.05)
    polled = workspace.create("conversations")

    poll_once()
    poll_once()

    assert [e["objectId"] for e in take_events(aws)] == [polled["id"]]
    assert cursors.status(1)["pollingSince"] > datetime.fromisoformat(answer["createdDate"]).timestamp()
    assert by_webhook["id"] != polled["id"]


def test_polling_turned_off_and_on_again_does_not_send_the_gap(api, aws, workspace):
    create_polling(api)
    poll_once()  # cursors exist from the first polling period
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {"event.vendor.type": "webhook", "oauth.api.secret": "s"}})
    assert http_answer(api, patch)[0] == 200
    during_webhooks = workspace.create("conversations")
    time.sleep(1.05)
    patch["body"] = json.dumps({"configuration": {"event.vendor.type": "polling"}})
    assert http_answer(api, patch)[0] == 200
    time.sleep(1.05)
    after = workspace.create("conversations")

    poll_once()

    sent = [e["objectId"] for e in take_events(aws)]
    assert sent == [after["id"]]
    assert during_webhooks["id"] not in sent


def test_a_resumed_pass_whose_saved_window_reaches_behind_creation_is_held_to_it(api, aws, workspace):
    created = create_polling(api)
    made = stamp(workspace, "conversations", created)
    # A pass cut short by the Lambda timeout, saved with a window an hour wide (as a cursor from before
    # this rule, or an operator's edit, could hold it).
    cursors.save(
        1,
        "conversations",
        cursors.Cursor(since=created, resume={"until": time.time(), "start": created - 3600, "pass": 1}),
    )

    poll_once()

    events = [e for e in take_events(aws) if e["objectType"] == "conversations"]
    assert_sent_once_from_creation(events, made, created)
