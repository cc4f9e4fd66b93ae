"""Issue #5: a local run prints JSON logs in which one webhook's path, from intake to callback,
is followed by one id."""

from __future__ import annotations

import json

import httpx

from local.intercom import make_notification, send_webhook
from local.stack import LocalStack
from tests.e2e.conftest import CLIENT_SECRET


def test_one_event_id_follows_a_webhook_from_intake_to_callback():
    with LocalStack(api_port=0, environment={"POWERTOOLS_LOG_LEVEL": "INFO"}) as stack:
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
        stack.function_output.clear()
        notification = make_notification("contact.user.created", {"type": "contact", "id": "c9"}, app_id="a")
        assert send_webhook(created.json()["webhookUrl"], notification, CLIENT_SECRET).status_code == 200
        output = stack.function_output.wait_for(
            lambda lines: any('"callback delivered"' in line.text for line in lines), timeout=30
        )
        # The functions' stdout, as CloudWatch Logs keeps it: one JSON object a line.
        lines = [json.loads(line.text) for line in output if line.stream == "stdout"]

    [accepted] = [line for line in lines if line.get("message") == "webhook accepted"]
    trail = [line for line in lines if line.get("event_id") == accepted["event_id"]]
    assert [line["message"] for line in trail] == ["webhook accepted", "callback delivered"]
    assert {line["function_name"] for line in trail} == {"api", "dispatcher"}
    assert {line["intercom_notification_id"] for line in trail} == {notification["id"]}
    assert all(line["instance_id"] == created.json()["id"] for line in trail)
