"""An instance that cannot make progress (issue #9): it shows on GET /instances/{id}, raises
`PollerStuck` for its alarm, and the way out that docs/operations.md gives sends nothing twice.

It is stuck the way production gets stuck: an unfinished pass's resume point holds a page cursor that
Intercom refuses (a 400 on every later poll, before any page is read), so no poll can make progress.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from intercom_events.logic import polling
from intercom_events.store import cursors

from tests.conftest import ROOT
from tests.integration.test_poller_status import shown
from tests.integration.test_polling import iso, take_events, versions

OPERATIONS = ROOT / "docs" / "operations.md"


@pytest.fixture
def recorded(monkeypatch) -> list[list[str]]:
    """The metrics each poll raised, one list per poll (`poll_at` starts the next)."""
    polls: list[list[str]] = []
    add_metric = polling.metrics.add_metric

    def record(**metric: Any) -> None:
        polls[-1].append(metric["name"])
        add_metric(**metric)

    monkeypatch.setattr(polling.metrics, "add_metric", record)
    return polls


def poll_at(recorded: list[list[str]], moment: float, owner: str = "test") -> polling.PollReport:
    """One poll with time to spare, its clock at `moment` (so that each poll's date differs)."""
    recorded.append([])
    return polling.poll(1, time_left=lambda: 300.0, owner=owner, now=lambda: moment)


def documented_way_out() -> dict[str, Any]:
    """The `aws dynamodb update-item` of the runbook's section on a poller that cannot make progress,
    as boto3 arguments (the table and the instance left to the caller)."""
    text = OPERATIONS.read_text()
    section = text[text.index("## A poller that cannot make progress") :]
    command = re.search(r"aws dynamodb update-item .*?(?=\n```)", section, re.S)
    assert command, "the runbook gives the update-item command"
    words = shlex.split(command.group(0).replace("\\\n", " "))
    options = {words[i][2:]: words[i + 1] for i in range(3, len(words) - 1) if words[i].startswith("--")}
    assert options["table-name"] == "$TABLE"
    found = {"Key": json.loads(options["key"]), "UpdateExpression": options["update-expression"]}
    if "condition-expression" in options:
        found["ConditionExpression"] = options["condition-expression"]
    return found


def stop_after_first_page() -> tuple[httpx.Client, Callable[[], float]]:
    """A client and a Lambda clock that runs out once one search page has been read."""
    pages = 0

    def count(response: httpx.Response) -> None:
        nonlocal pages
        pages += response.request.url.path.endswith("/search")

    return httpx.Client(event_hooks={"response": [count]}), lambda: 300.0 if pages < 1 else 5.0


def test_a_stuck_instance_shows_alarms_and_the_documented_way_out_sends_nothing_twice(
    api, aws, workspace, polling_instance, recorded
):
    made = workspace.seed("contacts", 400, start=int(time.time()), spacing=0.001)
    http, time_left = stop_after_first_page()
    with http:
        recorded.append([])
        first = polling.poll(1, time_left=time_left, owner="run-1", http=http)
    assert first.outcome == "partial"
    sent_first = take_events(aws)
    assert 0 < len(sent_first) < len(made)
    # The resume point's page cursor is one Intercom no longer takes (as it refuses a cursor it issued).
    cursor = cursors.load(1, "contacts")
    assert cursor is not None and cursor.resume is not None
    cursor.resume["cursor"] = "bm90IGEgY3Vyc29yIGFueSBtb3Jl"
    cursors.save(1, "contacts", cursor)

    start = time.time()
    reports = [poll_at(recorded, start + 60 * i) for i in range(3)]

    assert [r.outcome for r in reports] == ["unavailable"] * 3
    assert "400 parameter_invalid" in reports[0].reason and "contacts" in reports[0].reason
    assert [metrics.count("PollerStuck") for metrics in recorded[1:]] == [0, 0, 1]
    assert all("PollErrors" in metrics for metrics in recorded[1:])
    status = shown(api)
    assert status["consecutiveFailures"] == 3
    assert status["failingSince"] == iso(int(start)) < status["lastPollDate"]
    assert take_events(aws) == []

    # The runbook's way out: the unfinished pass's resume point goes, nothing else.
    way_out = documented_way_out()
    assert way_out["Key"] == {"pk": {"S": "INSTANCE#42"}, "sk": {"S": "CURSOR#contacts"}}
    way_out["Key"]["pk"]["S"] = "INSTANCE#1"
    aws.client("dynamodb").update_item(TableName=aws.table_name, **way_out)

    assert poll_at(recorded, time.time()).outcome == "done"

    status = shown(api)
    assert status["outcome"] == "done"
    assert "consecutiveFailures" not in status and "failingSince" not in status
    sent = versions(sent_first + take_events(aws))
    assert sent == Counter(("contacts", c["id"], iso(c["updated_at"])) for c in made)  # each once


def test_progress_ends_a_run_of_failures_and_an_overlapped_poll_leaves_it(
    api, aws, intercom, workspace, polling_instance, recorded
):
    workspace.create("contacts")
    start = time.time()
    intercom.fail_next(400, 400)  # Intercom refuses two polls, each on its first call
    assert poll_at(recorded, start).outcome == "unavailable"
    assert poll_at(recorded, start + 60).outcome == "unavailable"
    failing = shown(api)
    assert (failing["consecutiveFailures"], failing["failingSince"]) == (2, iso(int(start)))

    assert cursors.acquire_lock(1, "another-run", start, lease_seconds=3600)
    assert poll_at(recorded, start + 120).outcome == "busy"
    assert shown(api) == failing  # a poll that did not run says nothing of progress
    cursors.release_lock(1, "another-run")

    assert poll_at(recorded, start + 180).outcome == "done"

    done = shown(api)
    assert "consecutiveFailures" not in done and "failingSince" not in done
    assert not any("PollerStuck" in metrics for metrics in recorded)
    assert len(take_events(aws)) == 1
