"""The local stack keeps the promises AWS keeps: batches side by side, one process (and one logger)
per execution environment, and the callback guard's settings honoured as a developer sets them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from local.__main__ import authorization_hints
from local.intercom import make_notification, send_webhook
from local.receiver import Reply
from local.stack import DISPATCHER_FUNCTION_TIMEOUT_SECONDS, LocalStack
from tests.e2e.conftest import CLIENT_SECRET, create_webhook_instance

# A receiver that hangs holds its callback until the dispatcher gives up: the callback timeout (set
# here) or the function's timeout, whichever comes first.
CALLBACK_TIMEOUT_SECONDS = 24
HANG_SECONDS = min(CALLBACK_TIMEOUT_SECONDS, DISPATCHER_FUNCTION_TIMEOUT_SECONDS)


def management_client(stack: LocalStack) -> httpx.Client:
    env = stack.environment
    authorization = f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"
    return httpx.Client(base_url=stack.api_url, headers={"Authorization": authorization}, timeout=30)


def notify(instance: dict[str, Any], number: int) -> None:
    notification = make_notification(
        "contact.user.created", {"type": "contact", "id": f"c{number}"}, app_id="a"
    )
    answer = send_webhook(instance["webhookUrl"], notification, CLIENT_SECRET, timeout=30)
    assert answer.status_code == 200, answer.text


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets a hanging receiver answer; set at the end whatever happens, so the stack stops at once."""
    event = threading.Event()
    yield event
    event.set()


def test_a_hanging_receiver_holds_up_no_other_instances_callback(release):
    environment = {
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "CALLBACK_TIMEOUT_SECONDS": str(CALLBACK_TIMEOUT_SECONDS),
    }
    with LocalStack(api_port=0, environment=environment) as stack, management_client(stack) as client:
        hanging = stack.receiver(default=Reply(hold=release, delay=HANG_SECONDS * 2))
        healthy = stack.receiver()
        slow = create_webhook_instance(stack, client, f"{hanging.url}/slow").json()
        other = create_webhook_instance(stack, client, f"{healthy.url}/other").json()

        notify(slow, 1)
        hanging.wait_for(1, timeout=60)  # a dispatcher's batch now waits on the hanging receiver
        notify(other, 2)

        # One batch at a time, the other instance's callback could only leave once the hanging one
        # was given up (HANG_SECONDS); batches side by side deliver it while that one still hangs.
        [delivered] = healthy.wait_for(1, timeout=HANG_SECONDS / 2)
        assert delivered.json()["message"]["instanceId"] == other["id"]
        assert len(hanging.requests) == 1  # the first attempt, still unanswered
        release.set()


def test_each_functions_log_lines_carry_its_own_name_one_json_object_a_line(release):
    with LocalStack(api_port=0, environment={"POWERTOOLS_LOG_LEVEL": "INFO"}) as stack:
        with management_client(stack) as client:
            receiver = stack.receiver()
            instance = create_webhook_instance(stack, client, f"{receiver.url}/events").json()
        receiver.respond_with([Reply(hold=release, delay=HANG_SECONDS * 2)])
        notify(instance, 0)
        receiver.wait_for(1, timeout=60)  # the dispatcher is mid-invocation from here...
        with ThreadPoolExecutor(max_workers=4) as pool:  # ...while the API serves these, 4 at once
            list(pool.map(lambda number: notify(instance, number), range(1, 11)))
        release.set()
        receiver.wait_for(11, timeout=60)
        stack.function_output.wait_for(
            lambda lines: sum('"callback delivered"' in line.text for line in lines) == 11, timeout=30
        )
        lines = stack.function_output.lines

    printed = [line for line in lines if line.stream == "stdout"]
    parsed = [json.loads(line.text) for line in printed]  # each line one whole JSON document...
    assert all(isinstance(entry, dict) for entry in parsed)  # ...and an object
    named = [
        (line.function, entry["function_name"])
        for line, entry in zip(printed, parsed, strict=True)
        if "function_name" in entry
    ]
    assert {function for function, _ in named} == {"api", "dispatcher"}
    assert all(function == name for function, name in named)
    delivered = [entry for entry in parsed if entry.get("message") == "callback delivered"]
    assert len(delivered) == 11
    assert all(entry["function_name"] == "dispatcher" and "event_id" in entry for entry in delivered)


def test_an_empty_callback_allow_list_allows_no_host(monkeypatch):
    monkeypatch.setenv("CALLBACK_ALLOWED_HOSTS", "")
    with LocalStack(api_port=0, environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        assert stack.environment["CALLBACK_ALLOWED_HOSTS"] == ""
        with management_client(stack) as client:
            refused = create_webhook_instance(stack, client, f"{stack.receiver().url}/events")

    assert refused.status_code == 400, refused.text
    assert "event.notification.callback.url" in refused.text


def test_http_callbacks_are_refused_when_the_environment_says_so(monkeypatch):
    monkeypatch.setenv("ALLOW_HTTP_CALLBACKS", "false")
    with LocalStack(api_port=0, environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        assert stack.environment["ALLOW_HTTP_CALLBACKS"] == "false"
        with management_client(stack) as client:
            receiver = stack.receiver()
            over_http = create_webhook_instance(stack, client, f"{receiver.url}/events")
            over_https = create_webhook_instance(stack, client, f"https://127.0.0.1:{receiver.port}/events")

    assert over_http.status_code == 400, over_http.text
    assert over_https.status_code == 200, over_https.text  # the allow-list still opens loopback


def test_make_local_prints_a_working_authorization_for_each_user():
    users = [
        {"id": 1, "name": "alice", "secret": "alice-secret"},
        {"id": 2, "name": "bob", "secret": "bob-secret"},
    ]
    environment = {"POWERTOOLS_LOG_LEVEL": "WARNING", "USER_SECRET": json.dumps(users)}
    with LocalStack(api_port=0, environment=environment) as stack:
        hints = authorization_hints(
            stack.environment["USER_SECRET"], stack.environment["ORGANIZATION_SECRET"]
        )
        answers = [
            httpx.get(
                f"{stack.api_url}/instances", headers={"Authorization": hint["authorization"]}, timeout=30
            )
            for hint in hints
        ]

    assert [hint["userName"] for hint in hints] == ["alice", "bob"]
    assert [answer.status_code for answer in answers] == [200, 200]
