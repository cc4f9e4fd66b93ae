"""Issue #2's acceptance: signed Intercom notifications in, signed callbacks out, over the local stack."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.intercom import check_webhook_url, make_notification, send_webhook
from local.receiver import RecordedRequest, verify_signatures
from tests.e2e.conftest import CLIENT_SECRET, SIGNATURE_KEY

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "intercom" / "webhooks"
OWN = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


def verified(request: RecordedRequest) -> dict[str, Any]:
    """Both schemes, as a receiver checks them; raises when either does not match."""
    body = verify_signatures(request, SIGNATURE_KEY)
    assert request.header("webhook-id") == body["message"]["eventId"]
    return body


def settle(receiver: Any, count: int) -> list[RecordedRequest]:
    """Wait for `count` callbacks, then a moment more so that an extra one would be seen."""
    receiver.wait_for(count, timeout=30)
    time.sleep(1.5)
    requests: list[RecordedRequest] = receiver.requests
    return requests


def fixtures() -> list[Path]:
    folder = SHARED if SHARED.is_dir() else OWN
    return sorted(folder.glob("*.json"))


def test_every_notification_becomes_one_verified_callback(webhook_instance, receiver):
    url = webhook_instance["webhookUrl"]
    assert check_webhook_url(url).status_code == 200
    sent: dict[str, dict[str, Any]] = {}
    for path in fixtures():
        body = path.read_bytes()
        answer = send_webhook(url, body, CLIENT_SECRET)
        assert answer.status_code == 200, (path.name, answer.text)
        notification = json.loads(body)
        if notification["topic"] != "ping":
            sent[notification["id"]] = notification

    requests = settle(receiver, len(sent))

    assert len(requests) == len(sent)
    for request in requests:
        body = verified(request)
        message = body["message"]
        assert message["raw"] == sent[message["raw"]["id"]]  # the notification as Intercom sent it
        assert body["topic"] == f"instance-{webhook_instance['id']}-intercom-events"
        assert message["instanceId"] == webhook_instance["id"]
        [event] = message["events"]
        assert event["eventType"] in ("CREATED", "UPDATED", "DELETED", "UNKNOWN")
        assert isinstance(event["objectId"], str) and event["objectId"]
        assert event["date"].endswith("Z")
    assert len({r.header("webhook-id") for r in requests}) == len(requests)


def test_a_wrong_signature_is_401_and_makes_no_callback(webhook_instance, receiver):
    notification = make_notification("contact.user.created", {"type": "contact", "id": "c1"}, app_id="a")
    answer = send_webhook(webhook_instance["webhookUrl"], notification, "not-the-client-secret")
    assert answer.status_code == 401
    time.sleep(1.5)
    assert receiver.requests == []


def test_a_notification_sent_twice_gives_one_callback(webhook_instance, receiver):
    notification = make_notification(
        "conversation.user.created", {"type": "conversation", "id": "9"}, app_id="a"
    )
    for _ in range(2):
        assert send_webhook(webhook_instance["webhookUrl"], notification, CLIENT_SECRET).status_code == 200
    [request] = settle(receiver, 1)
    assert verified(request)["message"]["raw"]["id"] == notification["id"]


def test_a_ping_gives_no_callback(webhook_instance, receiver):
    ping = make_notification("ping", {"type": "ping", "message": "hello"}, app_id="a")
    assert send_webhook(webhook_instance["webhookUrl"], ping, CLIENT_SECRET).status_code == 200
    time.sleep(1.5)
    assert receiver.requests == []


def test_a_receiver_failing_twice_gets_the_event_on_the_third_try_with_the_same_id(
    webhook_instance, receiver
):
    receiver.respond_with([500, 500, 200])
    notification = make_notification("contact.user.updated", {"type": "contact", "id": "c2"}, app_id="a")
    assert send_webhook(webhook_instance["webhookUrl"], notification, CLIENT_SECRET).status_code == 200

    first, second, third = settle(receiver, 3)

    assert len({r.header("webhook-id") for r in (first, second, third)}) == 1
    assert [verified(r)["message"]["eventId"] for r in (first, second, third)].count(
        first.header("webhook-id")
    ) == 3


@pytest.mark.parametrize("path", ["/instances", "/instances/1"])
def test_management_routes_refuse_a_missing_authorization(stack, path):
    assert httpx.get(stack.api_url + path).status_code == 401


def test_the_demo_runs_to_the_end():
    from local import demo

    assert demo.main() == 0
