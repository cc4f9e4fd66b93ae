"""Secrets stay secret (issue #4): a whole scenario over the local stack, every log line and every HTTP
answer captured, and none of them carries a client secret, an access token, a signature key, a basic
password or an instance token (the instance token once, in the answer that creates the instance)."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intercom_events.intercom.signature import hub_signature
from intercom_events.store import instances as instance_store

from local.intercom import make_notification
from local.stack import LocalStack
from tests.conftest import http_answer, load_event

CLIENT_ID = "secrets-client-id"
CLIENT_SECRET = "client-secret-0c6f1e9d8b7a"
SIGNATURE_KEY = "signature-key-5a4b3c2d1e0f"
POLLING_SIGNATURE_KEY = "signature-key-polling-9e8d7c6b"
BASIC_USERNAME = "callback-user"
BASIC_PASSWORD = "basic-password-7f6e5d4c3b2a"
POLLING_BASIC_PASSWORD = "basic-password-polling-1a2b3c4d"
WRONG_CLIENT_SECRET = "wrong-client-secret-4d3c2b1a"


@dataclass
class Answer:
    method: str
    url: str
    status: int
    text: str  # status line, headers and body, as the caller sees them


class Recorder(logging.Handler):
    """Every record of a logger, formatted as it would be printed."""

    def __init__(self, formatter: logging.Formatter | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def recorders() -> Iterator[list[Recorder]]:
    """The functions' Powertools logger (JSON, not propagated) and the root logger, recorded."""
    from intercom_events.observability import logger as powertools_logger

    service = powertools_logger._logger
    recorders = [Recorder(powertools_logger.registered_formatter), Recorder()]
    service.addHandler(recorders[0])
    logging.getLogger().addHandler(recorders[1])
    yield recorders
    service.removeHandler(recorders[0])
    logging.getLogger().removeHandler(recorders[1])


@contextlib.contextmanager
def printing_here() -> Iterator[None]:
    """Powertools' handler prints to the stdout it found when first imported: point it at this one, so
    that capfd sees its lines too."""
    from intercom_events.observability import logger as powertools_logger

    handlers = [h for h in powertools_logger._logger.handlers if type(h) is logging.StreamHandler]
    streams = [h.setStream(sys.stdout) for h in handlers]
    try:
        yield
    finally:
        sys.stdout.flush()
        for handler, stream in zip(handlers, streams, strict=True):
            handler.stream = stream


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_no_secret_in_any_log_line_or_answer_of_a_whole_scenario(recorders, capfd):
    # DEBUG: whatever the project logs at any level is in what is checked. The stack stops before the
    # output is read, so that its last lines are in it too.
    environment = {"POWERTOOLS_LOG_LEVEL": "DEBUG", "INSTANCE_CACHE_SECONDS": "1"}
    # In this process: the recorders hook into the functions' loggers.
    with printing_here(), LocalStack(api_port=0, environment=environment, functions_in_process=True) as stack:
        answers, secrets, tokens = run_scenario(stack)
    captured = capfd.readouterr()
    printed = (captured.out + captured.err).splitlines()
    logged = [line for recorder in recorders for line in recorder.lines]
    # The scenario did log: management, intake, delivery and polling lines are all in what is checked.
    messages = {json.loads(line).get("message") for line in recorders[0].lines if line.startswith("{")}
    assert {"instance created", "webhook accepted", "webhook rejected", "callback delivered"} <= messages
    assert any('"message":"webhook accepted"' in line for line in printed)  # Powertools' own print
    assert len(answers) >= 20 and len(printed) >= 20 and len(logged) >= 20

    for name, secret in secrets.items():
        assert not [line for line in printed + logged if secret in line], f"the {name} is in a log line"
        assert not [a for a in answers if secret in a.text], f"the {name} is in an answer"
    for token in tokens:
        assert not [line for line in printed + logged if token in line], "an instance token is in a log line"
        [carrying] = [a for a in answers if token in a.text]  # the answer that created the instance
        assert (carrying.method, carrying.url.endswith("/instances"), carrying.status) == ("POST", True, 200)


def run_scenario(stack: LocalStack) -> tuple[list[Answer], dict[str, str], list[str]]:
    """Everything an integrator, Intercom and an operator do with two instances; every answer kept."""
    answers: list[Answer] = []

    def record(response: httpx.Response) -> None:
        response.read()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        text = f"{response.status_code}\n{headers}\n\n{response.text}"
        answers.append(Answer(response.request.method, str(response.request.url), response.status_code, text))

    env = stack.environment
    authorization = f"User {env['USER_SECRET']}, Organization {env['ORGANIZATION_SECRET']}"
    http = httpx.Client(
        base_url=stack.api_url,
        headers={"Authorization": authorization},
        timeout=30,
        event_hooks={"response": [record]},
    )
    receiver = stack.receiver()
    intercom = stack.intercom
    intercom.register_app(CLIENT_ID, CLIENT_SECRET)
    tokens_before = set(intercom._tokens)  # the simulated Intercom's issued tokens (no public view)

    # An OAuth instance whose code Intercom refuses: the 400 names Intercom's error, no secret.
    refused = http.post(
        "/instances",
        json={
            "element": {"key": "intercom"},
            "providerData": {"code": intercom.authorize(CLIENT_ID)},
            "name": "refused",
            "configuration": {"oauth.api.key": CLIENT_ID, "oauth.api.secret": WRONG_CLIENT_SECRET},
        },
    )
    assert refused.status_code == 400, refused.text

    # The webhook instance: the OAuth code exchanged, a signature key, Basic auth on each callback.
    created = http.post(
        "/instances",
        json={
            "element": {"key": "intercom"},
            "providerData": {"code": intercom.authorize(CLIENT_ID)},
            "name": "secrets",
            "tags": ["secrets"],
            "configuration": {
                "authentication.type": "oauth2",
                "oauth.callback.url": "https://app.example.com/oauth",
                "oauth.api.key": CLIENT_ID,
                "oauth.api.secret": CLIENT_SECRET,
                "event.notification.enabled": True,
                "event.vendor.type": "webhook",
                "event.notification.callback.url": f"{receiver.url}/events",
                "event.notification.signature.key": SIGNATURE_KEY,
                "event.notification.basic.username": BASIC_USERNAME,
                "event.notification.basic.password": BASIC_PASSWORD,
                "event.notification.callback.headers": {"X-Receiver": "secrets"},
            },
        },
    )
    assert created.status_code == 200, created.text
    instance = created.json()
    instance_id, instance_token = instance["id"], instance["token"]
    [access_token] = set(intercom._tokens) - tokens_before
    element_authorization = f"User {env['USER_SECRET']}, Element {instance_token}"

    # Reading and changing it, with the organization secret and with its own token.
    assert http.get(f"/instances/{instance_id}").status_code == 200
    assert (
        http.get(f"/instances/{instance_id}", headers={"Authorization": element_authorization}).status_code
        == 200
    )
    assert http.get("/instances").status_code == 200
    assert http.patch(f"/instances/{instance_id}", json={"name": "renamed", "tags": ["a"]}).status_code == 200
    invalid = http.patch(
        f"/instances/{instance_id}", json={"configuration": {"event.poller.refresh_interval": 0}}
    )
    assert invalid.status_code == 400
    assert http.delete(f"/instances/{instance_id}/enabled").status_code == 200
    assert http.put("/instances/enabled", headers={"Authorization": element_authorization}).status_code == 200
    assert http.put(f"/instances/{instance_id}/enabled").status_code == 200
    assert (
        http.get(
            "/instances", headers={"Authorization": f"User {env['USER_SECRET']}, Element wrong"}
        ).status_code
        == 401
    )

    # Intercom's webhooks: one signed (its callback fails once, then is delivered), one wrongly signed.
    webhook = instance["webhookUrl"].replace("https://", "http://", 1)
    assert http.head(webhook).status_code == 200
    receiver.respond_with([500, 200])
    notification = json.dumps(
        make_notification("contact.user.created", {"type": "contact", "id": "c1"}, app_id="a")
    )
    signed = {
        "Content-Type": "application/json",
        "X-Hub-Signature": hub_signature(notification.encode(), CLIENT_SECRET),
    }
    assert http.post(webhook, content=notification, headers=signed).status_code == 200
    forged = {**signed, "X-Hub-Signature": hub_signature(notification.encode(), "not-the-client-secret")}
    assert http.post(webhook, content=notification, headers=forged).status_code == 401
    receiver.wait_for(2, timeout=30)
    assert receiver.requests[-1].header("authorization", "").startswith("Basic ")

    # The event log, and the event replayed.
    wait_for(
        lambda: any(e["status"] == "delivered" for e in http.get(f"/instances/{instance_id}/events").json())
    )
    [event] = http.get(f"/instances/{instance_id}/events").json()
    assert http.post(f"/instances/{instance_id}/events/{event['eventId']}/retry").status_code == 202
    receiver.wait_for(3, timeout=30)
    assert http.post(f"/instances/{instance_id}/events/retry").status_code == 202

    # A polling instance of a private app, with its access token, polled now.
    polling_token = intercom.issue_token()
    polling = http.post(
        "/instances",
        json={
            "element": {"key": "intercom"},
            "name": "secrets polling",
            "configuration": {
                "authentication.type": "token",
                "intercom.access.token": polling_token,
                "event.notification.enabled": "true",
                "event.vendor.type": "polling",
                "event.objects": "conversations",
                "event.notification.callback.url": f"{receiver.url}/polled",
                "event.notification.signature.key": POLLING_SIGNATURE_KEY,
                "event.notification.basic.username": BASIC_USERNAME,
                "event.notification.basic.password": POLLING_BASIC_PASSWORD,
            },
        },
    )
    assert polling.status_code == 200, polling.text
    time.sleep(1.1)  # newer than the instance, to Intercom's second
    intercom.workspace.create("conversations")
    assert http.post(f"/instances/{polling.json()['id']}/poll").status_code == 202
    wait_for(lambda: any(r.path == "/polled" for r in receiver.requests))
    assert stack.scheduler.wait_idle(30)

    # Both deleted; the webhook URL is gone.
    assert http.delete(f"/instances/{instance_id}").status_code == 200
    assert http.delete(f"/instances/{polling.json()['id']}").status_code == 200
    # Intake keeps an instance for a second (INSTANCE_CACHE_SECONDS), then the deletion shows.
    wait_for(lambda: http.post(webhook, content=notification, headers=signed).status_code == 410, timeout=10)
    stack.worker.drain(timeout=10)
    assert stack.scheduler.wait_idle(30)
    http.close()

    secrets = {
        "client secret": CLIENT_SECRET,
        "refused client secret": WRONG_CLIENT_SECRET,
        "access token": access_token,
        "polling access token": polling_token,
        "signature key": SIGNATURE_KEY,
        "polling signature key": POLLING_SIGNATURE_KEY,
        "basic password": BASIC_PASSWORD,
        "polling basic password": POLLING_BASIC_PASSWORD,
        "basic credentials": base64.b64encode(f"{BASIC_USERNAME}:{BASIC_PASSWORD}".encode()).decode(),
        "user secret": env["USER_SECRET"],
        "organization secret": env["ORGANIZATION_SECRET"],
    }
    return answers, secrets, [instance_token, polling.json()["token"]]


# ---- every spelling of a secret's key ------------------------------------------------------------------

# Each secret's key as words: Open Connectors' name, and the field name the typed view once read as well.
SECRET_KEY_WORDS = {
    "oauth.api.secret": ("oauth_api_secret", [["oauth", "api", "secret"]]),
    "intercom.access.token": ("access_token", [["intercom", "access", "token"], ["access", "token"]]),
    "event.notification.signature.key": (
        "signature_key",
        [["event", "notification", "signature", "key"], ["signature", "key"]],
    ),
    "event.notification.basic.password": (
        "basic_password",
        [["event", "notification", "basic", "password"], ["basic", "password"]],
    ),
}


@st.composite
def secret_key_spellings(draw) -> tuple[str, str]:
    """A secret's key and one way a client might spell it: any case, any separators, padded."""
    key = draw(st.sampled_from(sorted(SECRET_KEY_WORDS)))
    words = draw(st.sampled_from(SECRET_KEY_WORDS[key][1]))
    cased = ["".join(c.upper() if draw(st.booleans()) else c for c in word) for word in words]
    spelling = cased[0]
    for word in cased[1:]:
        spelling += draw(st.sampled_from([".", "_", "-", " ", "", "/", ":", ".."])) + word
    padding = draw(st.sampled_from(["", " ", "\t", "_", "."]))
    return key, padding + spelling + padding


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spelled=secret_key_spellings(),
    secret=st.text(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=16, max_size=40
    ),
    patch=st.booleans(),
)
def test_a_secret_under_any_spelling_is_masked_sealed_and_read(api, aws, spelled, secret, patch):
    key, spelling = spelled
    event = load_event("api/create_instance_token.json")
    body = json.loads(event["body"])
    if not patch:
        body["configuration"] = {k: v for k, v in body["configuration"].items() if k != key} | {
            spelling: secret
        }
    event["body"] = json.dumps(body)
    status, created = http_answer(api, event)
    assert status == 200, created
    path = f"/elements/api-v2/instances/{created['id']}"
    if patch:
        event = load_event("api/patch_instance.json")
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["body"] = json.dumps({"configuration": {spelling: secret}})
        status, created = http_answer(api, event)
        assert status == 200, created

    event = load_event("api/get_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    status, got = http_answer(api, event)

    assert status == 200
    for answer in (created, got):
        assert answer["configuration"][key] == "********"
        assert secret not in json.dumps(answer)
    assert secret not in json.dumps(
        aws.client("dynamodb").scan(TableName=aws.table_name)["Items"], default=str
    )
    stored = instance_store.get(created["id"])
    assert stored is not None and getattr(stored.config, SECRET_KEY_WORDS[key][0]) == secret
