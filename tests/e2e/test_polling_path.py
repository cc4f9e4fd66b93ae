"""Issue #3's acceptance over the local stack: changes in a busy simulated workspace, made before,
during and between polls (same second, page boundaries, 429s and 500s), reach the receiver once each."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from local.receiver import verify_signatures
from local.stack import LocalStack
from tests.e2e.conftest import SIGNATURE_KEY


@pytest.fixture
def polling_instance(stack: LocalStack, client: httpx.Client, receiver: Any) -> dict[str, Any]:
    token = stack.intercom.issue_token()
    answer = client.post(
        "/instances",
        json={
            "element": {"key": "intercom"},
            "name": "e2e polling",
            "configuration": {
                "authentication.type": "token",
                "intercom.access.token": token,
                "event.notification.enabled": True,
                "event.vendor.type": "polling",
                "event.poller.refresh_interval": 15,
                "event.objects": "contacts,conversations,tickets",
                "event.notification.callback.url": f"{receiver.url}/events",
                "event.notification.signature.key": SIGNATURE_KEY,
            },
        },
    )
    assert answer.status_code == 200, answer.text
    time.sleep(1.1)  # what changes from now on is newer than the instance, to Intercom's second
    instance: dict[str, Any] = answer.json()
    return instance


def poll_and_settle(stack: LocalStack, client: httpx.Client, receiver: Any, instance_id: int) -> None:
    """Poll now through the API, then wait until the poll ran and every callback went out."""
    fired = len(stack.scheduler.invocations)
    assert client.post(f"/instances/{instance_id}/poll").status_code == 202
    deadline = time.monotonic() + 60
    while len(stack.scheduler.invocations) == fired and time.monotonic() < deadline:
        time.sleep(0.1)  # the one-time schedule has not fired yet
    assert stack.scheduler.wait_idle(60)
    settled, count = time.monotonic(), len(receiver.requests)
    while time.monotonic() - settled < 1.5 and time.monotonic() < deadline:
        time.sleep(0.1)
        if len(receiver.requests) != count:
            settled, count = time.monotonic(), len(receiver.requests)


def delivered(receiver: Any) -> list[dict[str, Any]]:
    events = []
    for request in receiver.requests:
        body = verify_signatures(request, SIGNATURE_KEY)
        assert len(body["message"]["events"]) <= 10
        events.extend(body["message"]["events"])
    return events


def test_every_change_reaches_the_receiver_exactly_once(stack, client, receiver, polling_instance):
    workspace = stack.intercom.workspace
    instance_id = polling_instance["id"]
    now = int(time.time())
    workspace.seed("contacts", 3000, start=now - 20 * 86400, spacing=500)  # the quiet workspace
    searches_before = len(stack.intercom.requests)

    # Before the first poll: a burst within the same seconds, more than a page of them.
    burst = workspace.seed("contacts", 320, start=now, spacing=0.003)
    conversations = [workspace.create("conversations") for _ in range(4)]
    stack.intercom.fail_next(429, 500)
    poll_and_settle(stack, client, receiver, instance_id)

    # During a poll: a writer keeps changing records while the next one runs.
    stop = threading.Event()
    changed: list[str] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            record = burst[(i * 37) % len(burst)]
            workspace.update("contacts", record["id"], name=f"edit {i}")
            changed.append(record["id"])
            if i % 5 == 0:
                workspace.create("tickets")
            i += 1
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    poll_and_settle(stack, client, receiver, instance_id)
    stop.set()
    thread.join()
    stack.intercom.fail_next(503)
    time.sleep(1.1)
    poll_and_settle(stack, client, receiver, instance_id)  # between polls: whatever the writer left

    events = delivered(receiver)
    seen = Counter((e["objectType"], e["objectId"], e["date"]) for e in events)
    assert max(seen.values()) == 1, [k for k, n in seen.items() if n > 1][:5]

    def final(resource: str, record_id: str) -> tuple[str, str, str]:
        record = workspace.get(resource, record_id)
        return (resource, record_id, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record["updated_at"])))

    expected = {final("contacts", c["id"]) for c in burst}
    expected |= {final("conversations", c["id"]) for c in conversations}
    expected |= {final("tickets", t) for t in workspace.tickets}
    assert expected <= set(seen), sorted(expected - set(seen))[:5]
    # Nothing from before the instance, and no record the workspace does not hold.
    quiet = {c for c in workspace.contacts} - {c["id"] for c in burst}
    assert not quiet & {e["objectId"] for e in events}
    # CREATED when created equals updated (Open Connectors' rule), UPDATED for a later version.
    kinds = {(e["objectId"], e["date"]): e["eventType"] for e in events}
    for object_id in set(changed):
        record = workspace.get("contacts", object_id)
        version = final("contacts", object_id)[2]
        assert kinds[(object_id, version)] == (
            "CREATED" if record["created_at"] == record["updated_at"] else "UPDATED"
        )
    assert all(kinds[(c["id"], final("conversations", c["id"])[2])] == "CREATED" for c in conversations)
    # No poll read the quiet workspace: a few pages of contacts each, not 3,000 records.
    searches = [r for r in stack.intercom.requests[searches_before:] if r.path == "/contacts/search"]
    print(f"contact searches over 3 polls: {len(searches)}; callbacks: {len(receiver.requests)}")
    assert len(searches) < 3 * 12
