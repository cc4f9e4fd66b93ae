"""Nothing is saved that later breaks the instance (SPEC §3 "Validation"), and what is saved is what the
instance does.

Each value below either breaks something after the save (DynamoDB refuses empty map keys and keeps keys
of limited length; a header with a line break, a non-token name or a non-ASCII value cannot be sent; the
access token and intercom.api.version go into headers of every call to Intercom; Basic auth cannot carry
a ':' in the user name) or clashes with what each callback sets itself. Such a save is a 400 naming the
field, on create and on patch, and nothing is stored. The values that are accepted are stored in the form
the instance reads them, and afterwards the instance can be read, listed, patched, disabled, enabled,
deleted, polled and delivered to (moto for AWS, the receiver and the simulated Intercom on loopback).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from intercom_events.models.instance import MASK, is_secret_key
from intercom_events.store import instances as store
from intercom_events.store.items import instance_key

from local.lambda_runtime import LocalFunction
from tests.conftest import http_answer, invoke, load_event, load_handler

HEADERS = "configuration.event.notification.callback.headers"
BASIC = {"event.notification.basic.username": "user", "event.notification.basic.password": "basic-pass-1234"}
SECRET_HEADER_VALUE = "header-secret-value-5d6e"


def request(
    name: str, *, body: Any = None, instance_id: int | None = None, suffix: str = ""
) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"api/{name}.json"))
    if body is not None:
        event["body"] = json.dumps(body)
    if instance_id is not None:
        path = f"/elements/api-v2/instances/{instance_id}{suffix}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def create_body(change: dict[str, Any]) -> dict[str, Any]:
    """The sample create body with `change`'s name and tags, and its configuration keys merged in."""
    body = json.loads(load_event("api/create_instance_token.json")["body"])
    for key, value in change.items():
        body[key] = {**body[key], **value} if key == "configuration" else value
    return body


def instance_items(aws) -> list[dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=aws.table_name)["Items"]
    return [
        item for item in items if item["sk"]["S"] == "INSTANCE" and item["pk"]["S"].startswith("INSTANCE#")
    ]


def assert_every_operation_works(api, instance_id: int) -> None:
    """Whatever an instance holds, it can be read, listed, changed, disabled, enabled and deleted."""
    assert http_answer(api, request("get_instance", instance_id=instance_id))[0] == 200
    status, listed = http_answer(api, request("list_instances"))
    assert status == 200 and instance_id in [i["id"] for i in listed]
    patch = request("patch_instance", body={"tags": ["after"]}, instance_id=instance_id)
    assert http_answer(api, patch)[0] == 200
    assert http_answer(api, request("disable_instance", instance_id=instance_id, suffix="/enabled"))[0] == 200
    assert http_answer(api, request("enable_instance", instance_id=instance_id, suffix="/enabled"))[0] == 200
    assert http_answer(api, request("delete_instance", instance_id=instance_id))[0] == 200
    assert http_answer(api, request("get_instance", instance_id=instance_id))[0] == 404


def headers(value: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"configuration": {"event.notification.callback.headers": value, **more}}


# (what is sent, the field the 400 names)
REFUSED = {
    "an empty configuration key": ({"configuration": {"": "x"}}, "configuration"),
    "an empty key inside a client's own value": (
        {"configuration": {"x-own": {"a": {"": 1}}}},
        "configuration.x-own",
    ),
    "a configuration key too long for the store": ({"configuration": {"k" * 256: "x"}}, "configuration"),
    "a key too long inside a value": ({"configuration": {"x-own": {"k" * 256: 1}}}, "configuration.x-own"),
    "an empty key inside the poller configuration": (
        {"configuration": {"event.poller.configuration": {"conversations": {"": "id"}}}},
        "configuration.event.poller.configuration",
    ),
    "an empty key inside the poller configuration as JSON text": (
        {"configuration": {"event.poller.configuration": json.dumps({"": {"url": "/contacts"}})}},
        "configuration.event.poller.configuration",
    ),
    "a callback header named ''": (headers({"": "v"}), HEADERS),
    "a callback header named '' in JSON text": (headers(json.dumps({"": SECRET_HEADER_VALUE})), HEADERS),
    "a header name with a space": (headers({"X Tenant": "v"}), HEADERS),
    "a header name with a colon": (headers({"X-Tenant:": "v"}), HEADERS),
    "a header name with CRLF": (headers({"X-Tenant\r\nX-Injected": "v"}), HEADERS),
    "a header name not in ASCII": (headers({"X-Tenänt": "v"}), HEADERS),
    "a header name too long": (headers({"X-" + "a" * 300: "v"}), HEADERS),
    "too many headers": (headers({f"X-H{i}": "v" for i in range(51)}), HEADERS),
    "the same header twice in two cases": (
        headers({"X-Tenant": "a", "x-tenant": "b"}),
        f"{HEADERS}.x-tenant",
    ),
    "a header value with CRLF": (
        headers({"X-Token": SECRET_HEADER_VALUE + "\r\nX-Injected: 1"}),
        f"{HEADERS}.X-Token",
    ),
    "a header value with LF": (headers({"X-Token": "a\nb" + SECRET_HEADER_VALUE}), f"{HEADERS}.X-Token"),
    "a header value with NUL": (headers({"X-Token": SECRET_HEADER_VALUE + "\x00"}), f"{HEADERS}.X-Token"),
    "a header value with DEL": (headers({"X-Token": SECRET_HEADER_VALUE + "\x7f"}), f"{HEADERS}.X-Token"),
    "a header value not in ASCII": (headers({"X-Token": SECRET_HEADER_VALUE + "é"}), f"{HEADERS}.X-Token"),
    "a header value too long": (headers({"X-Token": "v" * 2049}), f"{HEADERS}.X-Token"),
    "a header value that is an object": (headers({"X-Token": {"a": 1}}), f"{HEADERS}.X-Token"),
    **{
        f"the reserved header {name}": (headers({name: "v"}), f"{HEADERS}.{name}")
        for name in (
            "Content-Type",
            "content-length",
            "Host",
            "Transfer-Encoding",
            "Connection",
            "webhook-id",
            "Webhook-Signature",
            "webhook-timestamp",
            "Elements-Webhook-Signature",
            "Upgrade",
            "Expect",
        )
    },
    "Authorization beside Basic auth": (
        headers({"Authorization": "Bearer x"}, **BASIC),
        f"{HEADERS}.Authorization",
    ),
    "a callback URL with a tab": (
        {"configuration": {"event.notification.callback.url": "https://app.example.com/a\tb"}},
        "configuration.event.notification.callback.url",
    ),
    "a callback URL with CR": (
        {"configuration": {"event.notification.callback.url": "https://app.example.com/a\rb"}},
        "configuration.event.notification.callback.url",
    ),
    "a callback URL with LF": (
        {"configuration": {"event.notification.callback.url": "https://app.example.com/a\nb"}},
        "configuration.event.notification.callback.url",
    ),
    "a callback URL over 2048 characters": (
        {"configuration": {"event.notification.callback.url": "https://app.example.com/" + "a" * 2030}},
        "configuration.event.notification.callback.url",
    ),
    "an OAuth callback URL with LF": (
        {"configuration": {"oauth.callback.url": "https://app.example.com/\nx"}},
        "configuration.oauth.callback.url",
    ),
    "an Intercom API version with CRLF": (
        {"configuration": {"intercom.api.version": "2.11\r\nX-Injected: 1"}},
        "configuration.intercom.api.version",
    ),
    "an Intercom API version with a space": (
        {"configuration": {"intercom.api.version": "2 11"}},
        "configuration.intercom.api.version",
    ),
    "an Intercom API version not in ASCII": (
        {"configuration": {"intercom.api.version": "2.11\u00e9"}},
        "configuration.intercom.api.version",
    ),
    "an access token with a line break": (
        {"configuration": {"intercom.access.token": "tok\nen"}},
        "configuration.intercom.access.token",
    ),
    "an access token with a space": (
        {"configuration": {"intercom.access.token": "tok en"}},
        "configuration.intercom.access.token",
    ),
    "a Basic user name with ':'": (
        {"configuration": {**BASIC, "event.notification.basic.username": "us:er"}},
        "configuration.event.notification.basic.username",
    ),
    "a Basic user name with a line break": (
        {"configuration": {**BASIC, "event.notification.basic.username": "us\ner"}},
        "configuration.event.notification.basic.username",
    ),
    "a Basic password with a line break": (
        {"configuration": {**BASIC, "event.notification.basic.password": "pass\r\nword-1234"}},
        "configuration.event.notification.basic.password",
    ),
    "a refresh interval beyond a week": (
        {"configuration": {"event.poller.refresh_interval": 10_081}},
        "configuration.event.poller.refresh_interval",
    ),
    "a signature key too long to seal": (
        {"configuration": {"event.notification.signature.key": "k" * 3100}},
        "configuration",
    ),
    "a name of spaces only": ({"name": "   "}, "name"),
    "a name with a line break": ({"name": "line\nbreak"}, "name"),
    "a name with NUL": ({"name": "nul\x00"}, "name"),
    "an empty tag": ({"tags": ["ok", ""]}, "tags.1"),
    "a tag of spaces only": ({"tags": ["  "]}, "tags.0"),
    "a tag with a tab": ({"tags": ["a\tb"]}, "tags.0"),
}


@pytest.mark.parametrize(("change", "field"), REFUSED.values(), ids=REFUSED.keys())
def test_a_create_that_would_break_the_instance_is_a_400_naming_the_field_and_saves_nothing(
    api, aws, change, field
):
    status, answer = http_answer(api, request("create_instance_token", body=create_body(change)))

    assert status == 400, answer
    assert field in [error["field"] for error in answer["errors"]], answer
    assert SECRET_HEADER_VALUE not in json.dumps(answer)
    assert instance_items(aws) == []


@pytest.mark.parametrize(("change", "field"), REFUSED.values(), ids=REFUSED.keys())
def test_a_patch_that_would_break_the_instance_is_a_400_naming_the_field_and_changes_nothing(
    api, aws, change, field
):
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200
    before = instance_items(aws)

    status, answer = http_answer(api, request("patch_instance", body=change))

    assert status == 400, answer
    assert field in [error["field"] for error in answer["errors"]], answer
    assert SECRET_HEADER_VALUE not in json.dumps(answer)
    assert instance_items(aws) == before
    assert_every_operation_works(api, 1)


def test_basic_auth_added_by_a_patch_is_refused_when_an_authorization_header_is_stored(api, aws):
    change = create_body(headers({"Authorization": "Bearer receiver-token"}))
    assert http_answer(api, request("create_instance_token", body=change))[0] == 200

    status, answer = http_answer(api, request("patch_instance", body={"configuration": BASIC}))

    assert status == 400
    assert [e["field"] for e in answer["errors"]] == [f"{HEADERS}.Authorization"]


# Accepted, and stored as the instance reads it: (what is sent, the keys as stored and answered).
CANONICAL = {
    "the vendor type 'webhooks'": ({"event.vendor.type": " Webhooks "}, {"event.vendor.type": "webhook"}),
    "booleans and numbers as text": (
        {"event.notification.enabled": "TRUE", "event.poller.refresh_interval": " 15 "},
        {"event.notification.enabled": True, "event.poller.refresh_interval": 15},
    ),
    "a whole number of minutes as a float": (
        {"event.poller.refresh_interval": 30.0},
        {"event.poller.refresh_interval": 30},
    ),
    "the region and authentication type in capitals": (
        {"intercom.region": "EU", "authentication.type": "Token"},
        {"intercom.region": "eu", "authentication.type": "token"},
    ),
    "values with spaces around them": (
        {"intercom.api.version": " 2.11 ", "event.notification.callback.url": " https://app.example.com/cb "},
        {"intercom.api.version": "2.11", "event.notification.callback.url": "https://app.example.com/cb"},
    ),
    "event.objects with spaces": (
        {"event.objects": " contacts , conversations ,"},
        {"event.objects": "contacts,conversations"},
    ),
    "callback headers as JSON text, values trimmed": (
        {"event.notification.callback.headers": json.dumps({"X-Note": "  a b\tc  ", "X-Number": 5})},
        {"event.notification.callback.headers": {"X-Note": "a b\tc", "X-Number": "5"}},
    ),
    "an Authorization header without Basic auth": (
        {"event.notification.callback.headers": {"Authorization": "Bearer receiver-token"}},
        {"event.notification.callback.headers": {"Authorization": "Bearer receiver-token"}},
    ),
    "the poller configuration as JSON text": (
        {
            "event.poller.configuration": json.dumps(
                {"conversations": {"url": "/conversations", "idField": "id"}}
            )
        },
        {"event.poller.configuration": {"conversations": {"url": "/conversations", "idField": "id"}}},
    ),
    "a client's own nested value": (
        {"x-own": {"nested": {"deep": [1, 2.5, "ü", None, True]}}},
        {"x-own": {"nested": {"deep": [1, 2.5, "ü", None, True]}}},
    ),
}


@pytest.mark.parametrize(("given", "stored"), CANONICAL.values(), ids=CANONICAL.keys())
def test_lax_values_are_stored_and_answered_as_the_instance_reads_them(api, aws, given, stored):
    status, created = http_answer(
        api, request("create_instance_token", body=create_body({"configuration": given}))
    )

    assert status == 200, created
    answered = http_answer(api, request("get_instance"))[1]["configuration"]
    kept = store.get(1).configuration  # type: ignore[union-attr]
    for key, value in stored.items():
        # As JSON, so that 30.0 is not taken for 30 nor "true" for true. A secret is answered masked.
        shown = json.dumps(MASK if is_secret_key(key) else value)
        assert json.dumps(created["configuration"][key]) == json.dumps(answered[key]) == shown, key
        assert json.dumps(kept[key]) == json.dumps(value), key
    assert_every_operation_works(api, 1)


def test_names_and_tags_are_stored_trimmed(api, aws):
    body = create_body({"name": "  Spaced name  ", "tags": " a, b,,c "})
    status, created = http_answer(api, request("create_instance_token", body=body))
    assert status == 200 and created["name"] == "Spaced name" and created["tags"] == ["a", "b", "c"]
    patched = http_answer(api, request("patch_instance", body={"name": " Renamed ", "tags": [" x "]}))[1]
    assert patched["name"] == "Renamed" and patched["tags"] == ["x"]


def test_an_instance_saved_before_these_checks_can_still_be_read_changed_and_deleted(api, aws):
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200
    aws.client("dynamodb").update_item(
        TableName=aws.table_name,
        Key=instance_key(1),
        UpdateExpression="SET configuration.#version = :version, configuration.#headers = :headers",
        ExpressionAttributeNames={
            "#version": "intercom.api.version",
            "#headers": "event.notification.callback.headers",
        },
        ExpressionAttributeValues={":version": {"S": "2 11"}, ":headers": {"M": {"X Bad": {"S": "café"}}}},
    )
    # A change to the configuration names what must be mended, and mending it is accepted.
    status, answer = http_answer(
        api, request("patch_instance", body={"configuration": {"event.objects": "contacts"}})
    )
    assert status == 400
    assert {e["field"] for e in answer["errors"]} == {"configuration.intercom.api.version", HEADERS}
    mended = {"intercom.api.version": "2.11", "event.notification.callback.headers": {}}
    assert http_answer(api, request("patch_instance", body={"configuration": mended}))[0] == 200

    assert_every_operation_works(api, 1)


def test_an_instance_saved_before_these_checks_stays_readable_listable_and_deletable(api, aws):
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200
    aws.client("dynamodb").update_item(
        TableName=aws.table_name,
        Key=instance_key(1),
        UpdateExpression="SET configuration.#version = :version, configuration.#user = :user",
        ExpressionAttributeNames={
            "#version": "intercom.api.version",
            "#user": "event.notification.basic.username",
        },
        ExpressionAttributeValues={":version": {"S": "2\t11"}, ":user": {"S": "us:er"}},
    )

    assert_every_operation_works(api, 1)


# ---- what is accepted is usable by the dispatcher and the poller ---------------------------------------


def test_the_dispatcher_sends_what_was_accepted(api, aws, receiver):
    signature_key = "long-signature-key-" + "k" * 2500
    given = {
        "event.notification.callback.url": f" {receiver.url}/callbacks ",
        "event.notification.signature.key": signature_key,
        "event.notification.callback.headers": json.dumps(
            {"X-Note": "  a b\tc  ", "Authorization": "Bearer receiver-token", "X-Empty": ""}
        ),
        "event.vendor.type": "WEBHOOKS",
        "event.notification.enabled": "True",
    }
    status, created = http_answer(
        api, request("create_instance_token", body=create_body({"configuration": given}))
    )
    assert status == 200, created

    assert invoke(load_handler("dispatcher"), load_event("dispatcher/batch.json"), "dispatcher") == {
        "batchItemFailures": []
    }

    [callback] = receiver.wait_for(1)
    assert callback.header("x-note") == "a b\tc" and callback.header("x-empty") == ""
    assert callback.header("authorization") == "Bearer receiver-token"
    digest = hmac.new(signature_key.encode(), callback.body, hashlib.sha256).digest()
    assert callback.header("elements-webhook-signature") == "sha256=" + base64.b64encode(digest).decode()
    assert_every_operation_works(api, 1)


def test_the_poller_polls_what_was_accepted(api, aws, intercom):
    token = "polling-token-" + uuid.uuid4().hex
    intercom.issue_token(token=token)
    given = {
        "authentication.type": "TOKEN",
        "intercom.access.token": f" {token} ",
        "intercom.region": "AU",
        "intercom.api.version": " 2.11 ",
        "event.vendor.type": "Polling",
        "event.notification.enabled": "true",
        "event.poller.refresh_interval": "5",
        "event.objects": "conversations",
        "event.poller.configuration": json.dumps(
            {"conversations": {"url": "/conversations/search", "idField": "id"}}
        ),
    }
    body = create_body({"configuration": given})
    del body["configuration"]["oauth.api.secret"]
    status, created = http_answer(api, request("create_instance_token", body=body))
    assert status == 200, created
    group = aws.environment()["SCHEDULE_GROUP_NAME"]
    schedule = aws.client("scheduler").get_schedule(Name="instance-1", GroupName=group)
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    time.sleep(1.05)  # newer than the instance, to Intercom's second
    conversation = intercom.workspace.create("conversations")

    report = LocalFunction("poller", load_handler("poller").lambda_handler, timeout_seconds=300).invoke(
        load_event("poller/scheduled_poll.json")
    )

    assert report["outcome"] == "done", report
    searches = [r for r in intercom.requests if r.path == "/conversations/search"]
    assert searches and {r.header("Intercom-Version") for r in searches} == {"2.11"}
    assert {r.header("Authorization") for r in searches} == {f"Bearer {token}"}
    messages = aws.client("sqs").receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert conversation["id"] in {e["objectId"] for m in messages for e in json.loads(m["Body"])["events"]}
    assert_every_operation_works(api, 1)
