"""Issue #5: a local run prints JSON logs in which one webhook's path, from intake to callback,
is followed by one id."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.intercom import make_notification, send_webhook
from local.stack import LocalStack
from tests.e2e.conftest import CLIENT_SECRET


class JsonLines(logging.Handler):
    """The functions' log lines exactly as they print them (Powertools' JSON formatter), kept in memory."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    from intercom_events.observability import logger

    stdlib = logging.getLogger(logger.service)
    handler = JsonLines(stdlib.handlers[0].formatter if stdlib.handlers else None)
    level = stdlib.level
    stdlib.addHandler(handler)
    stdlib.setLevel(logging.INFO)
    yield handler.lines
    stdlib.removeHandler(handler)
    stdlib.setLevel(level)


def test_one_event_id_follows_a_webhook_from_intake_to_callback(log_lines):
    with LocalStack(api_port=0) as stack:
        stack.intercom.register_app("trail-client", CLIENT_SECRET)
        env = stack.environment
        authorization = f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"
        created = httpx.post(
            f"{stack.api_url}/instances",
            headers={"Authorization": authorization},
            timeout=30,
            json={
                "element": {"key": "intercom"},
                "providerData": {"code": stack.intercom.authorize("trail-client")},
                "name": "trail",
                "configuration": {
                    "oauth.api.key": "trail-client",
                    "oauth.api.secret": CLIENT_SECRET,
                    "event.notification.enabled": True,
                    "event.notification.callback.url": f"{stack.receiver().url}/cb",
                },
            },
        )
        assert created.status_code == 200, created.text
        log_lines.clear()
        notification = make_notification("contact.user.created", {"type": "contact", "id": "c9"}, app_id="a")
        assert send_webhook(created.json()["webhookUrl"], notification, CLIENT_SECRET).status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            x.get("message") == "callback delivered" for x in log_lines
        ):
            time.sleep(0.2)
        lines = list(log_lines)

    [accepted] = [line for line in lines if line.get("message") == "webhook accepted"]
    trail = [line for line in lines if line.get("event_id") == accepted["event_id"]]
    assert [line["message"] for line in trail] == ["webhook accepted", "callback delivered"]
    assert {line["function_name"] for line in trail} == {"api", "dispatcher"}
    assert {line["intercom_notification_id"] for line in trail} == {notification["id"]}
    assert all(line["instance_id"] == created.json()["id"] for line in trail)
