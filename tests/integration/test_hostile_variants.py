"""Variants of the hostile-input classes beyond the first examples: a body announced as Base64 that is
not, an instance read and sent back as the answer shows it, a receiver's credential in the callback
headers, secrets in the logged event, lookalike spellings of a secret's key, a callback URL on port 0."""

from __future__ import annotations

import copy
import json
import logging
import sys
from typing import Any

import pytest
from intercom_events.intercom.signature import hub_signature
from intercom_events.models.instance import KNOWN_KEYS, normalized_key
from intercom_events.store import instances as store

from tests.conftest import AUTH, http_answer, invoke, load_event, load_handler

BASE = "/elements/api-v2"
MASK = "********"
RECEIVER_TOKEN = "receiver-bearer-5e6f7a8b"
CLIENT_SECRET = "sample-client-secret"
SECRETS = ["sample-access-token", CLIENT_SECRET, "sample-signature-key", RECEIVER_TOKEN]


def request(method: str, path: str, body: Any = None, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("api/create_instance_token.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = BASE + path
    event["requestContext"]["http"]["method"] = method
    if body is None:
        event.pop("body", None)
    else:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    event.update(changes)
    return event


def create_body(receiver_url: str, **configuration: Any) -> dict[str, Any]:
    body = json.loads(load_event("api/create_instance_token.json")["body"])
    body["configuration"]["event.notification.callback.url"] = f"{receiver_url}/callbacks"
    body["configuration"].update(configuration)
    return body


def webhook_status(api, secret: str = CLIENT_SECRET) -> int:
    event = load_event("api/webhook_contact_created.json")
    event["headers"]["x-hub-signature"] = hub_signature(event["body"].encode(), secret)
    return http_answer(api, event)[0]


def raw_items(aws) -> str:
    return json.dumps(aws.client("dynamodb").scan(TableName=aws.table_name)["Items"], default=str)


# ---- no 5xx ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("POST", "/instances"), ("PATCH", "/instances/1")])
@pytest.mark.parametrize("text", ["!!!not base64", "abc", "a"])
def test_a_management_body_marked_base64_that_is_not_is_400(api, method, path, text):
    assert http_answer(api, request("POST", "/instances", create_body("http://127.0.0.1:9")))[0] == 200

    status, answer = http_answer(api, request(method, path, text, isBase64Encoded=True))

    assert status == 400, answer
    assert answer["requestId"] and answer["errors"] == [
        {"field": "body", "message": "not Base64 as announced"}
    ]


# ---- a secret stays one, however it comes back ----------------------------------------------------


def test_an_instance_sent_back_as_it_was_read_keeps_its_secrets(api, aws, receiver):
    headers = {"Authorization": f"Bearer {RECEIVER_TOKEN}"}
    body = create_body(receiver.url, **{"event.notification.callback.headers": headers})
    assert http_answer(api, request("POST", "/instances", body))[0] == 200
    before = store.get(1).configuration  # type: ignore[union-attr]
    read = http_answer(api, request("GET", "/instances/1"))[1]

    status, answer = http_answer(
        api, request("PATCH", "/instances/1", {"configuration": read["configuration"]})
    )

    assert status == 200, answer
    assert store.get(1).configuration == before  # type: ignore[union-attr]
    assert webhook_status(api) == 200  # Intercom's signature still checks with the real client secret
    assert invoke(load_handler("dispatcher"), load_event("dispatcher/batch.json"), "dispatcher") == {
        "batchItemFailures": []
    }
    [callback] = receiver.wait_for(1)
    assert callback.header("authorization") == f"Bearer {RECEIVER_TOKEN}"


def test_a_patch_still_replaces_a_secret_given_in_full(api, aws):
    assert http_answer(api, request("POST", "/instances", create_body("http://127.0.0.1:9")))[0] == 200

    patch = {"configuration": {"oauth.api.secret": "new-client-secret", "intercom.access.token": MASK}}
    assert http_answer(api, request("PATCH", "/instances/1", patch))[0] == 200

    assert webhook_status(api, "new-client-secret") == 200
    assert store.get(1).configuration["intercom.access.token"] == "sample-access-token"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "key", ["oauth.api.secret", "intercom_access_token", "event.notification.callback.headers"]
)
def test_a_new_instance_with_the_mask_for_a_secret_is_400(api, aws, key):
    body = create_body("http://127.0.0.1:9")
    body["configuration"].pop(KNOWN_KEYS[normalized_key(key)], None)
    body["configuration"][key] = MASK

    status, answer = http_answer(api, request("POST", "/instances", body))

    assert status == 400, answer
    assert [e["field"] for e in answer["errors"]] == [f"configuration.{KNOWN_KEYS[normalized_key(key)]}"]
    assert http_answer(api, request("GET", "/instances"))[1] == []


def test_callback_headers_are_masked_in_answers_and_sealed_at_rest(api, aws):
    headers = {"Authorization": f"Bearer {RECEIVER_TOKEN}", "X-Api-Key": RECEIVER_TOKEN}
    body = create_body("http://127.0.0.1:9", **{"event.notification.callback.headers": headers})

    status, created = http_answer(api, request("POST", "/instances", body))

    assert status == 200, created
    answers = [
        created,
        *(http_answer(api, request("GET", path))[1] for path in ("/instances/1", "/instances")),
    ]
    assert RECEIVER_TOKEN not in json.dumps(answers)
    assert created["configuration"]["event.notification.callback.headers"] == MASK
    assert RECEIVER_TOKEN not in raw_items(aws)
    assert store.get(1).config.callback_headers == headers  # type: ignore[union-attr]


def test_no_secret_is_logged_even_when_powertools_is_asked_to_log_every_event(aws, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    # Powertools reads the setting when the handler is decorated: a cold start with it set.
    monkeypatch.delitem(sys.modules, "api_app", raising=False)
    api = load_handler("api")
    body = create_body(
        "http://127.0.0.1:9", **{"event.notification.callback.headers": {"X-Key": RECEIVER_TOKEN}}
    )

    assert http_answer(api, request("POST", "/instances", body))[0] == 200
    assert (
        http_answer(api, request("PATCH", "/instances/1", {"configuration": body["configuration"]}))[0] == 200
    )

    # Every line with all its keys, as CloudWatch would get them.
    text = "\n".join(json.dumps(vars(record), default=str) for record in caplog.records)
    assert "instance created" in text  # the function's own lines are there
    assert AUTH not in text and not [secret for secret in SECRETS if secret in text]
    assert "Plaintext" not in text  # KMS's request and answer (botocore logs their bodies at DEBUG)


# ---- lookalike spellings --------------------------------------------------------------------------


def test_a_secret_key_spelled_with_accents_is_the_secret(api, aws):
    body = create_body("http://127.0.0.1:9")
    body["configuration"].pop("oauth.api.secret")
    body["configuration"]["óauth.api.sécret"] = "accented-client-secret"  # o + U+0301, and é

    status, answer = http_answer(api, request("POST", "/instances", body))

    assert status == 200, answer
    assert answer["configuration"]["oauth.api.secret"] == MASK
    assert "accented-client-secret" not in raw_items(aws)
    assert webhook_status(api, "accented-client-secret") == 200


@pytest.mark.parametrize(
    "spelling",
    [
        "\u043eauth.api.secret",
        "oauth.api.s\u0435cret",
        "event.notification.signature.k\u0435y",
        "event.notification.basic.passw\u03bfrd",
    ],
    ids=["cyrillic-o", "cyrillic-e", "cyrillic-e-in-signature-key", "greek-omicron-in-basic-password"],
)
def test_a_lookalike_of_a_known_key_is_400_and_nothing_is_kept(api, aws, spelling):
    body = create_body("http://127.0.0.1:9", **{spelling: "lookalike-secret-3c4d"})

    status, answer = http_answer(api, request("POST", "/instances", body))

    assert status == 400, answer
    assert "letters of another alphabet" in answer["errors"][0]["message"]
    assert "lookalike-secret-3c4d" not in json.dumps(answer) and "lookalike-secret-3c4d" not in raw_items(aws)


def test_a_client_key_in_any_alphabet_that_imitates_no_known_key_is_kept(api, aws):
    body = create_body("http://127.0.0.1:9", **{"x-größe": 1, "регион": "значение", "x-\u03bfwn": 2})

    status, answer = http_answer(api, request("POST", "/instances", body))

    assert status == 200, answer
    assert answer["configuration"]["x-größe"] == 1 and answer["configuration"]["регион"] == "значение"
    assert answer["configuration"]["x-\u03bfwn"] == 2


# ---- nothing saved that cannot work ---------------------------------------------------------------


def test_a_callback_url_on_port_0_is_400(api, aws):
    status, answer = http_answer(api, request("POST", "/instances", create_body("http://127.0.0.1:0")))

    assert status == 400, answer
    assert answer["errors"][0]["field"] == "configuration.event.notification.callback.url"
