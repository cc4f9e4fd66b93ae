"""No input makes a 5xx: bodies, path parameters, query strings and headers that a parser or a later
step could choke on are each a 4xx with the API's JSON error and the request's id (the webhook's are
in test_webhook_intake.py, the event log's queries in test_event_log.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import AUTH, http_answer, load_event, too_deep_field

CREATE = load_event("api/create_instance_token.json")
BODY = json.loads(CREATE["body"])
REQUEST_ID = CREATE["requestContext"]["requestId"]


def create(api, body: str, authorization: str | None = AUTH) -> tuple[int, Any]:
    event = copy.deepcopy(CREATE)
    event["body"] = body
    if authorization is None:
        del event["headers"]["authorization"]
    return http_answer(api, event)


def with_raw(key: str, raw: str) -> str:
    """The create body with `key` (top level, or configuration.<key>) holding a JSON text as it is."""
    body = copy.deepcopy(BODY)
    marker = "\x00RAW\x00"
    if key.startswith("configuration."):
        body["configuration"][key.removeprefix("configuration.")] = marker
    else:
        body[key] = marker
    return json.dumps(body).replace(json.dumps(marker), raw)


def assert_400(status: int, answer: Any, field: str, problem: str) -> None:
    assert status == 400, answer
    assert answer["message"] and answer["requestId"] == REQUEST_ID
    assert [(e["field"], problem in e["message"]) for e in answer["errors"]] == [(field, True)], answer


@pytest.mark.parametrize("authorization", [AUTH, None], ids=["authorized", "unauthorized"])
@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_a_body_nested_deeper_than_the_limit_is_400(api, authorization, depth):
    text = "[" * depth + "]" * depth
    status, answer = create(api, text, authorization)

    assert_400(status, answer, too_deep_field(text, "0." * 31 + "0"), "nests deeper than 32 levels")


def test_a_value_nested_as_deep_as_the_store_keeps_is_accepted(api):
    status, answer = create(api, with_raw("configuration.x-nested", "[" * 29 + "]" * 29))

    assert status == 200, answer


@pytest.mark.parametrize(
    ("key", "raw", "field", "problem"),
    [
        ("tags", "[" + "9" * 5000 + "]", "body", "more than 4300 digits"),
        ("tags", "[-" + "1" * 4301 + "]", "body", "more than 4300 digits"),
        ("name", "NaN", "name", "not a finite number"),
        ("name", "-Infinity", "name", "not a finite number"),
        ("configuration.x-big", "1e400", "configuration.x-big", "not a finite number"),
        ("configuration.x-list", "[1, [2, Infinity]]", "configuration.x-list.1.1", "not a finite number"),
        ("tags", '["ok", "\\ud800"]', "tags.1", "lone surrogate"),
        ("configuration.x-map", '{"\\udc00": 1}', "configuration.x-map.\\udc00", "lone surrogate"),
        ("x-unknown", "NaN", "x-unknown", "not a finite number"),
    ],
    ids=[
        "integer-of-5000-digits",
        "negative-integer-of-4301-digits",
        "NaN",
        "-Infinity",
        "1e400",
        "Infinity-in-a-list",
        "lone-surrogate",
        "lone-surrogate-key",
        "NaN-in-an-unknown-field",
    ],
)
def test_a_value_no_json_writer_takes_back_is_400_naming_it(api, key, raw, field, problem):
    status, answer = create(api, with_raw(key, raw))

    assert_400(status, answer, field, problem)


def test_a_patch_body_is_read_with_the_same_limits(api):
    assert create(api, CREATE["body"])[0] == 200
    patch = load_event("api/patch_instance.json")
    patch["body"] = '{"configuration": {"x-deep": ' + "[" * 2000 + "]" * 2000 + "}}"

    status, answer = http_answer(api, patch)

    field = too_deep_field(patch["body"], "configuration.x-deep" + ".0" * 30)
    assert_400(status, answer, field, "nests deeper than 32 levels")


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("configuration", "[" * 1000 + "]" * 1000),
        ("configuration.event.poller.configuration", "[" * 5000 + "]" * 5000),
        # Under the secrets' 3 KB (the headers are sealed with them), so the JSON limit is what refuses it.
        ("configuration.event.notification.callback.headers", '{"a": ' + "[" * 1000 + "]" * 1000 + "}"),
    ],
    ids=["configuration", "poller-configuration", "callback-headers"],
)
def test_json_given_as_a_string_is_read_with_the_same_limits(api, key, text):
    """Open Connectors lets nested configuration come as JSON text: it is a body within the body."""
    body = copy.deepcopy(BODY)
    if key == "configuration":
        body["configuration"] = text
    else:
        body["configuration"][key.removeprefix("configuration.")] = text

    status, answer = create(api, json.dumps(body))

    assert status == 400, answer
    assert answer["requestId"] == REQUEST_ID
    assert [e["field"] for e in answer["errors"]] == [key], answer


@pytest.mark.parametrize("instance_id", ["0", "-1", "1e3", "0x1", str(2**53), "1" + "0" * 30, "9" * 5000])
def test_an_instance_id_that_no_instance_can_have_is_400(api, instance_id):
    event = load_event("api/get_instance.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/elements/api-v2/instances/{instance_id}"

    status, answer = http_answer(api, event)

    assert status == 400, answer
    assert answer["requestId"] == REQUEST_ID
    assert [e["field"] for e in answer["errors"]] == ["instance_id"]


@pytest.mark.parametrize(
    "authorization",
    [
        "x" * 1_000_000,
        "User " + "u" * 1_000_000 + ", Organization dev-organization-secret",
        "User dev-user-secret\x00, Organization dev-organization-secret",
        "User \x00",
        "User dév-üser-sécret, Organization ørganization",
        "User dev-user-secret, Organization dev-organization-secret\u00a0x",
    ],
    ids=["1-MB", "1-MB-user-secret", "NUL-in-a-secret", "NUL", "not-ASCII", "NBSP"],
)
def test_an_authorization_header_huge_with_nul_or_not_ascii_is_401(api, authorization):
    event = load_event("api/list_instances.json")
    event["headers"]["authorization"] = authorization

    status, answer = http_answer(api, event)

    assert status == 401, answer
    assert answer["requestId"] == REQUEST_ID


def test_a_bug_is_a_500_with_the_request_id_and_its_traceback_on_the_record(api, monkeypatch):
    from intercom_events.logic import instances
    from intercom_events.observability import logger

    def broken(_caller):
        raise RuntimeError("a bug, not a bad request")

    logged: list[tuple[str, Any]] = []
    monkeypatch.setattr(instances, "list_owned", broken)
    monkeypatch.setattr(logger, "error", lambda message, **kwargs: logged.append((message, kwargs)))

    status, answer = http_answer(api, load_event("api/list_instances.json"))

    assert (status, answer) == (500, {"message": "Internal error", "requestId": REQUEST_ID})
    [(message, kwargs)] = logged
    assert message == "unexpected error" and isinstance(kwargs["exc_info"], RuntimeError)
