"""`make demo`: both paths on the embedded stack, shown step by step, then exit.

Webhooks: an integrator creates an Intercom instance through the Open Connectors API (the OAuth code
exchanged with the simulated Intercom), Intercom checks and then posts signed notifications to the
webhook URL, and the integrator's receiver gets signed callbacks, which this script verifies as a
receiver would. Polling: a second instance polls the simulated workspace; changes made there come out
as callbacks of at most ten events.
Exit status 0 only when every step behaved as SPEC §4-6 says.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from typing import Any

import httpx
from intercom_events.api.console import CONSOLE_PATH

from local.intercom import check_webhook_url, make_notification, send_webhook
from local.receiver import CallbackReceiver, RecordedRequest, verify_signatures
from local.stack import LocalStack

CLIENT_ID = "demo-client-id"
CLIENT_SECRET = "demo-client-secret"  # noqa: S105 - the simulated Intercom app's secret
SIGNATURE_KEY = "demo-signature-key"


class DemoFailed(Exception):
    pass


def say(step: str, detail: str = "") -> None:
    print(f"\n== {step}" + (f"\n   {detail}" if detail else ""), flush=True)


def check(condition: bool, what: str) -> None:
    print(f"   {'ok ' if condition else 'FAIL'} {what}", flush=True)
    if not condition:
        raise DemoFailed(what)


def verify_callback(request: RecordedRequest) -> dict[str, Any]:
    """What a receiver does: both signature schemes over the raw body, then parse it."""
    try:
        body = verify_signatures(request, SIGNATURE_KEY)
    except Exception as exc:
        raise DemoFailed(f"callback signature not verified: {exc}") from None
    print("   ok  signatures verified: Elements-Webhook-Signature and standardwebhooks")
    return body


def management_client(stack: LocalStack) -> httpx.Client:
    env = stack.environment
    authorization = f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"
    return httpx.Client(headers={"Authorization": authorization}, timeout=30)


def run(stack: LocalStack, receiver: CallbackReceiver) -> None:
    api = stack.api_url
    authorization = (
        f"User {stack.environment['USER_SECRET']}, Organization {stack.environment['ORGANIZATION_SECRET']}"
    )
    client = httpx.Client(headers={"Authorization": authorization}, timeout=30)
    intercom = stack.intercom
    intercom.register_app(CLIENT_ID, CLIENT_SECRET)

    say("1. The integrator asks for Intercom's consent URL", f"GET {api}/elements/intercom/oauth/url")
    answer = client.get(
        f"{api}/elements/intercom/oauth/url",
        params={
            "apiKey": CLIENT_ID,
            "apiSecret": CLIENT_SECRET,
            "callbackUrl": "https://app.example.com/oauth",
        },
    )
    check(answer.status_code == 200, f"oauthUrl {answer.json().get('oauthUrl')}")
    code = intercom.authorize(CLIENT_ID)
    print("   an admin approves; Intercom redirects back with an authorization code")

    say("2. The integrator creates a webhook instance", f"POST {api}/instances")
    answer = client.post(
        f"{api}/instances",
        json={
            "element": {"key": "intercom"},
            "providerData": {"code": code},
            "name": "Demo instance",
            "tags": ["demo"],
            "configuration": {
                "authentication.type": "oauth2",
                "oauth.callback.url": "https://app.example.com/oauth",
                "oauth.api.key": CLIENT_ID,
                "oauth.api.secret": CLIENT_SECRET,
                "event.notification.enabled": True,
                "event.vendor.type": "webhook",
                "event.notification.callback.url": f"{receiver.url}/intercom-events",
                "event.notification.signature.key": SIGNATURE_KEY,
                "event.objects": "contacts,conversations",
            },
        },
    )
    instance = answer.json()
    check(answer.status_code == 200, f"instance {instance.get('id')} created, token shown once")
    check(instance["configuration"]["oauth.api.secret"] == "********", "secrets masked in the answer")
    webhook_url = instance["webhookUrl"]
    print(f"   Webhook URL to paste into Intercom's Developer Hub: {webhook_url}")

    say("3. Intercom checks the URL with a HEAD before saving it")
    check(check_webhook_url(webhook_url).status_code == 200, "HEAD answered 200")

    say("4. Intercom posts signed notifications")
    app_id = intercom.workspace.app_id
    contact = make_notification(
        "contact.user.created",
        {"type": "contact", "id": "6961d4041c1e12de4c5499cc", "role": "user", "email": "ada@example.com"},
        app_id=app_id,
    )
    conversation = make_notification(
        "conversation.user.created", {"type": "conversation", "id": "147", "state": "open"}, app_id=app_id
    )
    ping = make_notification(
        "ping", {"type": "ping", "message": "something something interzen"}, app_id=app_id
    )
    for notification in (contact, conversation, ping):
        answer = send_webhook(webhook_url, notification, CLIENT_SECRET)
        check(answer.status_code == 200, f"{notification['topic']}: {answer.status_code} {answer.text}")
    check(
        send_webhook(webhook_url, contact, CLIENT_SECRET).status_code == 200, "the same notification resent"
    )
    forged = send_webhook(webhook_url, contact, "not-the-client-secret")
    check(forged.status_code == 401, f"a forged signature is refused: {forged.status_code}")

    say("5. The receiver gets signed callbacks")
    requests = receiver.wait_for(2, timeout=20)
    time.sleep(1.0)  # give a duplicate or a ping the time to (wrongly) arrive
    requests = receiver.requests
    check(
        len(requests) == 2,
        f"{len(requests)} callbacks: one per notification, none for the ping or the resend",
    )
    for request in requests:
        body = verify_callback(request)
        [event] = body["message"]["events"]
        what = f"{event['objectType']} {event['eventType']} {event['objectId']}"
        print(f"   {body['topic']}: {what} at {event['date']} (webhook-id {request.header('webhook-id')})")
    print("   one callback as received:")
    print("   " + json.dumps(requests[0].json(), indent=2).replace("\n", "\n   "))

    say("6. A receiver that fails twice gets the event on the third try, with the same webhook-id")
    receiver.clear()
    receiver.respond_with([500, 503])
    retried = make_notification(
        "conversation.admin.replied", {"type": "conversation", "id": "147"}, app_id=app_id
    )
    check(
        send_webhook(webhook_url, retried, CLIENT_SECRET).status_code == 200, "notification accepted at once"
    )
    attempts = receiver.wait_for(3, timeout=30)
    ids = {r.header("webhook-id") for r in attempts}
    check(len(attempts) == 3 and len(ids) == 1, f"3 attempts, one webhook-id {ids.pop()}")
    verify_callback(attempts[-1])


def run_polling(stack: LocalStack, receiver: CallbackReceiver, client: httpx.Client) -> None:
    api = stack.api_url
    workspace = stack.intercom.workspace
    token = stack.intercom.issue_token()
    receiver.clear()

    say("7. The integrator creates a polling instance", "a private Intercom app's access token, every minute")
    answer = client.post(
        f"{api}/instances",
        json={
            "element": {"key": "intercom"},
            "name": "Demo polling instance",
            "configuration": {
                "authentication.type": "token",
                "intercom.access.token": token,
                "event.notification.enabled": "true",
                "event.vendor.type": "polling",
                "event.poller.refresh_interval": "1",
                "event.objects": "contacts,conversations",
                "event.notification.callback.url": f"{receiver.url}/intercom-events",
                "event.notification.signature.key": SIGNATURE_KEY,
            },
        },
    )
    instance = answer.json()
    check(answer.status_code == 200, f"instance {instance.get('id')} created; its schedule: rate(1 minute)")
    time.sleep(1.1)  # changes from here on are newer than the instance (Intercom counts whole seconds)

    say("8. Changes in the Intercom workspace, then a poll")
    contacts = [workspace.create("contacts", email=f"user{i}@example.com") for i in range(12)]
    workspace.create("conversations", title="Where is my order?")
    workspace.create("companies", name="Not watched: companies are not in event.objects")
    print(f"   {len(contacts)} contacts and 1 conversation created in workspace {workspace.app_id}")
    answer = client.post(f"{api}/instances/{instance['id']}/poll")
    check(answer.status_code == 202, "POST /instances/{id}/poll answered 202; the poll runs on its schedule")
    requests = receiver.wait_for(3, timeout=30)  # 12 contacts in callbacks of 10 and 2, one conversation
    time.sleep(1.0)
    requests = receiver.requests
    bodies = [verify_callback(request) for request in requests]
    events = [event for body in bodies for event in body["message"]["events"]]
    check(
        len(events) == 13 and {e["eventType"] for e in events} == {"CREATED"},
        f"{len(bodies)} callbacks carry 13 CREATED events, at most 10 each "
        f"({', '.join(str(len(b['message']['events'])) for b in bodies)})",
    )

    say("9. A change after that poll, and the next poll")
    receiver.clear()
    time.sleep(1.1)
    workspace.update("contacts", contacts[0]["id"], name="Ada Lovelace")
    client.post(f"{api}/instances/{instance['id']}/poll")
    [request] = receiver.wait_for(1, timeout=30)
    time.sleep(1.0)
    check(len(receiver.requests) == 1, "one callback: only what changed since the last poll")
    [event] = verify_callback(request)["message"]["events"]
    check(
        event["eventType"] == "UPDATED" and event["objectId"] == contacts[0]["id"],
        f"{event['objectType']} {event['eventType']} {event['objectId']} (pollDate {event['pollDate']})",
    )


def main() -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # The functions' JSON logs are for operators; the demo shows its own story unless asked.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    with LocalStack(api_port=int(os.environ.get("DEMO_API_PORT", "0"))) as stack:
        receiver = stack.receiver()
        say(
            "Local stack",
            f"API {stack.api_url} · moto {stack.aws.endpoint_url} · Intercom {stack.intercom.url}\n"
            f"   Console {stack.api_url}{CONSOLE_PATH} while the demo runs (`make local` keeps it up)",
        )
        try:
            console = httpx.get(f"{stack.api_url}{CONSOLE_PATH}", timeout=30)
            check(console.status_code == 200, "the console answers, for a person to watch the steps below")
            run(stack, receiver)
            run_polling(stack, stack.receiver(), management_client(stack))
        except DemoFailed as failure:
            print(f"\nDemo failed: {failure}", file=sys.stderr)
            return 1
    print("\nDemo complete: every callback arrived once and its signatures verified.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
