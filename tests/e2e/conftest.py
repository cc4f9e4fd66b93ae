"""The whole local stack (`make local`'s), driven over HTTP as an integrator and Intercom would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.stack import LocalStack

SIGNATURE_KEY = "e2e-signature-key"
CLIENT_ID = "e2e-client-id"
CLIENT_SECRET = "e2e-client-secret"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack(api_port=0, environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as running:
        yield running


@pytest.fixture
def client(stack: LocalStack) -> Iterator[httpx.Client]:
    env = stack.environment
    authorization = f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"
    with httpx.Client(base_url=stack.api_url, headers={"Authorization": authorization}, timeout=30) as http:
        yield http


@pytest.fixture
def receiver(stack: LocalStack) -> Any:
    return stack.receiver()


def create_webhook_instance(stack: LocalStack, client: httpx.Client, callback_url: str) -> httpx.Response:
    """POST /instances for a webhook instance, its OAuth code exchanged with the simulated Intercom."""
    stack.intercom.register_app(CLIENT_ID, CLIENT_SECRET)
    code = stack.intercom.authorize(CLIENT_ID)
    return client.post(
        "/instances",
        json={
            "element": {"key": "intercom"},
            "providerData": {"code": code},
            "name": "e2e",
            "tags": ["e2e"],
            "configuration": {
                "authentication.type": "oauth2",
                "oauth.callback.url": "https://app.example.com/oauth",
                "oauth.api.key": CLIENT_ID,
                "oauth.api.secret": CLIENT_SECRET,
                "event.notification.enabled": True,
                "event.vendor.type": "webhook",
                "event.notification.callback.url": callback_url,
                "event.notification.signature.key": SIGNATURE_KEY,
            },
        },
    )


@pytest.fixture
def webhook_instance(stack: LocalStack, client: httpx.Client, receiver: Any) -> dict[str, Any]:
    """A webhook instance made through the API, its callbacks to `receiver`."""
    answer = create_webhook_instance(stack, client, f"{receiver.url}/events")
    assert answer.status_code == 200, answer.text
    instance: dict[str, Any] = answer.json()
    return instance
