"""A secret is sealed whatever spelling brought it in (SPEC §3: secrets never returned, encrypted at rest).

Configuration keys are compared ignoring case and punctuation, so `oauth_api_secret`, `OAUTH.API.SECRET`
or `oauthApiSecret` are Open Connectors' `oauth.api.secret`: stored under that name, sealed, masked, and
used. Each test checks all three: the answers, the raw DynamoDB items, and what the instance does with the
secret (Intercom's notification signature, the Bearer token, the callback's signature and Basic auth), so
a spelling that was merely ignored fails too.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import pytest
from intercom_events.intercom.client import IntercomClient
from intercom_events.intercom.signature import hub_signature
from intercom_events.store import instances as store
from intercom_events.store.items import instance_key

from tests.conftest import http_answer, invoke, load_event, load_handler

MASK = "********"
USERNAME = "callback-user"
# Each secret's Open Connectors key, the field name the typed view once read too, and a value.
SECRETS = {
    "oauth.api.secret": ("oauth_api_secret", "client-secret-4c5b6a7d"),
    "intercom.access.token": ("access_token", "access-token-1f2e3d4c"),
    "event.notification.signature.key": ("signature_key", "signature-key-9a8b7c6d"),
    "event.notification.basic.password": ("basic_password", "basic-password-0d1e2f3a"),
}


def spellings(key: str) -> list[str]:
    field = SECRETS[key][0]
    words = key.split(".")
    return [
        key,
        field,
        key.upper(),
        words[0] + "".join(w.title() for w in words[1:]),  # oauthApiSecret
        "".join(w.title() for w in field.split("_")),  # OauthApiSecret, AccessToken
        f" {key} ",
        "-".join(words).title(),  # Oauth-Api-Secret
        "_".join(words),  # oauth_api_secret, intercom_access_token
        key.replace(".", " "),  # oauth api secret
        "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in key),  # fullwidth letters
    ]


CASES = [(key, spelling) for key in SECRETS for spelling in spellings(key)]


def configuration(callback_url: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "authentication.type": "token",
        "intercom.access.token": values["intercom.access.token"],
        "oauth.api.secret": values["oauth.api.secret"],
        "event.notification.enabled": "true",
        "event.vendor.type": "webhook",
        "event.notification.callback.url": callback_url,
        "event.notification.signature.key": values["event.notification.signature.key"],
        "event.notification.basic.username": USERNAME,
        "event.notification.basic.password": values["event.notification.basic.password"],
    }


def request(name: str, *, body: Any = None, path: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"api/{name}.json"))
    if body is not None:
        event["body"] = json.dumps(body)
    if path is not None:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def spelled(config: dict[str, Any], key: str, spelling: str, value: str) -> dict[str, Any]:
    config = {k: v for k, v in config.items() if k != key}
    config[spelling] = value
    return config


def raw_items(aws) -> str:
    return json.dumps(aws.client("dynamodb").scan(TableName=aws.table_name)["Items"], default=str)


def answers(api, instance_id: int) -> list[Any]:
    path = f"/elements/api-v2/instances/{instance_id}"
    return [
        http_answer(api, request("get_instance", path=path)),
        http_answer(api, request("list_instances")),
        http_answer(api, request("disable_instance", path=path + "/enabled")),
        http_answer(api, request("enable_instance", path=path + "/enabled")),
    ]


def assert_masked(answer: dict[str, Any], key: str, spelling: str) -> None:
    assert answer["configuration"][key] == MASK
    assert spelling == key or spelling not in answer["configuration"]


def assert_used(api, aws, receiver, instance_id: int, values: dict[str, str]) -> None:
    """The instance does with each secret what the secret is for: these exact values, no others."""
    # Intercom's signature is checked with the client secret.
    event = load_event("api/webhook_contact_created.json")
    body = event["body"].encode()
    event["headers"]["x-hub-signature"] = hub_signature(body, values["oauth.api.secret"])
    assert http_answer(api, event)[0] == 200
    # Intercom is called with the access token.
    calls: list[httpx.Request] = []

    def intercom(call: httpx.Request) -> httpx.Response:
        calls.append(call)
        return httpx.Response(200, json={"type": "list", "data": [], "total_count": 0})

    config = store.get(instance_id).config  # type: ignore[union-attr]
    http = httpx.Client(transport=httpx.MockTransport(intercom))
    IntercomClient.for_instance(config, http=http).search_page(
        "contacts", {"field": "id", "operator": ">", "value": 0}
    )
    assert calls[0].headers["authorization"] == f"Bearer {values['intercom.access.token']}"
    # The callback is signed with the signature key and carries the Basic password.
    receiver.clear()
    assert invoke(load_handler("dispatcher"), fresh_batch(), "dispatcher") == {"batchItemFailures": []}
    [callback] = receiver.wait_for(1)
    key = values["event.notification.signature.key"].encode()
    digest = base64.b64encode(hmac.new(key, callback.body, hashlib.sha256).digest()).decode()
    assert callback.header("elements-webhook-signature") == f"sha256={digest}"
    basic = base64.b64encode(f"{USERNAME}:{values['event.notification.basic.password']}".encode()).decode()
    assert callback.header("authorization") == f"Basic {basic}"


def fresh_batch() -> dict[str, Any]:
    """The sample dispatcher batch for instance 1, as a new event (a delivered one is not sent again)."""
    batch = load_event("dispatcher/batch.json")
    record = batch["Records"][0]
    record["body"] = json.dumps({**json.loads(record["body"]), "eventId": str(uuid.uuid4())})
    return batch


@pytest.fixture
def base_values() -> dict[str, str]:
    return {key: value for key, (_, value) in SECRETS.items()}


@pytest.mark.parametrize(("key", "spelling"), CASES)
def test_a_secret_under_any_spelling_is_sealed_masked_and_used(
    api, aws, receiver, base_values, key, spelling
):
    secret = f"spelled-{SECRETS[key][1]}"
    config = spelled(configuration(f"{receiver.url}/callbacks", base_values), key, spelling, secret)
    create = load_event("api/create_instance_token.json")
    body = {**json.loads(create["body"]), "configuration": config}

    status, created = http_answer(api, request("create_instance_token", body=body))

    assert status == 200, created
    assert_masked(created, key, spelling)
    for status, answer in answers(api, created["id"]):
        assert status == 200
        for one in answer if isinstance(answer, list) else [answer]:
            assert_masked(one, key, spelling)
        assert secret not in json.dumps(answer)
    assert secret not in raw_items(aws)
    assert_used(api, aws, receiver, created["id"], {**base_values, key: secret})


@pytest.mark.parametrize(("key", "spelling"), CASES)
def test_a_patch_under_any_spelling_replaces_the_secret_sealed_and_masked(
    api, aws, receiver, base_values, key, spelling
):
    create = load_event("api/create_instance_token.json")
    body = {
        **json.loads(create["body"]),
        "configuration": configuration(f"{receiver.url}/callbacks", base_values),
    }
    assert http_answer(api, request("create_instance_token", body=body))[0] == 200
    secret = f"patched-{SECRETS[key][1]}"

    status, patched = http_answer(api, request("patch_instance", body={"configuration": {spelling: secret}}))

    assert status == 200, patched
    assert_masked(patched, key, spelling)
    assert secret not in json.dumps(patched)
    for status, answer in answers(api, patched["id"]):
        assert status == 200 and secret not in json.dumps(answer)
    stored = raw_items(aws)
    assert secret not in stored and base_values[key] not in stored
    assert_used(api, aws, receiver, patched["id"], {**base_values, key: secret})


@pytest.mark.parametrize("key", SECRETS)
def test_a_secret_spelled_otherwise_in_the_flat_body_with_configuration_as_json_text_is_sealed_and_used(
    api, aws, receiver, base_values, key
):
    field, value = SECRETS[key]
    secret = f"flat-{value}"
    config = spelled(configuration(f"{receiver.url}/callbacks", base_values), key, field.upper(), secret)
    body = {"key": "intercom", "name": "flat", "configuration": json.dumps(config)}

    status, created = http_answer(api, request("create_instance_token", body=body))

    assert status == 200, created
    assert_masked(created, key, field.upper())
    assert secret not in json.dumps(created) and secret not in raw_items(aws)
    assert_used(api, aws, receiver, created["id"], {**base_values, key: secret})


def test_two_spellings_of_one_key_with_different_values_are_a_400_naming_the_key(api, aws):
    body = json.loads(load_event("api/create_instance_token.json")["body"])
    body["configuration"]["signature_key"] = "another-signature-key-5e6f"

    status, answer = http_answer(api, request("create_instance_token", body=body))

    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["configuration.event.notification.signature.key"]
    assert "another-signature-key-5e6f" not in json.dumps(answer)
    assert "sample-signature-key" not in json.dumps(answer)
    assert http_answer(api, request("list_instances"))[1] == []


def test_two_spellings_of_one_key_with_the_same_value_are_one_key(api, aws):
    body = json.loads(load_event("api/create_instance_token.json")["body"])
    body["configuration"]["SIGNATURE_KEY"] = body["configuration"]["event.notification.signature.key"]

    status, created = http_answer(api, request("create_instance_token", body=body))

    assert status == 200
    assert [k for k in created["configuration"] if "signature" in k.lower()] == [
        "event.notification.signature.key"
    ]


def test_a_clients_own_keys_are_kept_as_given(api, aws):
    body = json.loads(load_event("api/create_instance_token.json")["body"])
    body["configuration"] |= {"x-my.Key": "mine", "oauth.api.secretive": "not a secret of ours"}

    status, created = http_answer(api, request("create_instance_token", body=body))

    assert status == 200
    assert created["configuration"]["x-my.Key"] == "mine"
    assert created["configuration"]["oauth.api.secretive"] == "not a secret of ours"


def test_a_secret_stored_in_the_clear_under_another_spelling_is_masked_used_and_sealed_on_the_next_save(
    api, aws, receiver, base_values
):
    """Data saved before keys were made canonical: the typed view read field names, the store sealed
    only the dotted keys."""
    values = {**base_values, "event.notification.signature.key": "legacy-signature-key-7b8c"}
    config = configuration(f"{receiver.url}/callbacks", base_values)
    del config["event.notification.signature.key"]
    body = {**json.loads(load_event("api/create_instance_token.json")["body"]), "configuration": config}
    assert http_answer(api, request("create_instance_token", body=body))[0] == 200
    aws.client("dynamodb").update_item(
        TableName=aws.table_name,
        Key=instance_key(1),
        UpdateExpression="SET configuration.signature_key = :key",
        ExpressionAttributeValues={":key": {"S": "legacy-signature-key-7b8c"}},
    )
    assert "legacy-signature-key-7b8c" in raw_items(aws)

    status, answer = http_answer(api, request("get_instance"))

    assert status == 200 and answer["configuration"]["event.notification.signature.key"] == MASK
    assert "legacy-signature-key-7b8c" not in json.dumps(answer)
    assert_used(api, aws, receiver, 1, values)
    assert http_answer(api, request("patch_instance", body={"name": "saved again"}))[0] == 200
    assert "legacy-signature-key-7b8c" not in raw_items(aws)
    assert_used(api, aws, receiver, 1, values)
