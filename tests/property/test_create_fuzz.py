"""POST /instances under random input (issue #4): bodies of every shape, wrong types for every known key
(nested configuration values too), huge strings, unknown fields, and authorization headers missing,
garbled, partial or in another case. The answer is the instance or a 4xx JSON error, never a 5xx; a
wrong type is a 400 naming its field; no secret sent comes back."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import (
    AUTH,
    DEV_ORGANIZATION_SECRET,
    DEV_USER_SECRET,
    OTHER_USER_SECRET,
    http_answer,
    load_event,
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
TOKEN_EVENT = load_event("api/create_instance_token.json")
OAUTH_EVENT = load_event("api/create_instance.json")
BASES = [json.loads(TOKEN_EVENT["body"]), json.loads(OAUTH_EVENT["body"])]
SECRET_KEYS = [
    "oauth.api.secret",
    "intercom.access.token",
    "event.notification.signature.key",
    "event.notification.basic.password",
]
CONFIGURATION_KEYS = [
    "authentication.type",
    "oauth.callback.url",
    "oauth.api.key",
    "intercom.region",
    "intercom.api.version",
    "event.notification.enabled",
    "event.vendor.type",
    "event.notification.callback.url",
    "event.notification.callback.headers",
    "event.notification.basic.username",
    "event.objects",
    "event.poller.refresh_interval",
    "event.poller.configuration",
    *SECRET_KEYS,
]
TOP_LEVEL_KEYS = ["element", "key", "providerData", "code", "name", "tags", "configuration"]


def json_of(scalars: st.SearchStrategy, keys: st.SearchStrategy | None = None) -> st.SearchStrategy:
    keys = st.text(max_size=10) if keys is None else keys
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
        max_leaves=10,
    )


json_values = json_of(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30))
# What an integrator might put in an unknown configuration key: storable as it is (DynamoDB keeps no
# empty map key).
plain_json_values = json_of(
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.integers(-(10**15), 10**15).map(lambda n: n / 1000)
    | st.text(max_size=30),
    keys=st.text(min_size=1, max_size=10),
)
# Numbers JSON can carry but a float cannot, and numbers beyond what DynamoDB stores.
awkward_numbers = st.sampled_from(
    ["1e400", "-1e400", "NaN", "Infinity", "1e200", "1e-200", str(10**40), "-0"]
)
huge_strings = st.integers(min_value=300, max_value=500_000).map(lambda n: "x" * n)
values = st.one_of(json_values, huge_strings, st.text(max_size=300))
# Unknown whatever the spelling: known configuration keys are recognised in any case and punctuation
# ("OAUTH_API_SECRET"), and none of them begins with an x.
unknown_names = st.text(max_size=20).map(lambda name: "x-" + name)
unknown_fields = st.dictionaries(unknown_names, values, max_size=3)
plain_unknown_fields = st.dictionaries(unknown_names, plain_json_values, max_size=3)


class Raw(str):
    """A JSON fragment to splice into the body as is (NaN, 1e400: what json.dumps would not write)."""


def dumps(value: Any) -> str:
    """json.dumps that writes a Raw as it is."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


@st.composite
def mutated_bodies(draw) -> dict:
    """A valid body (token or OAuth), up to four keys changed, removed or made huge, unknown fields added."""
    body = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(TOP_LEVEL_KEYS + [f"configuration.{k}" for k in CONFIGURATION_KEYS]))
        new = draw(st.one_of(values, awkward_numbers.map(Raw), st.just(...)))  # ... removes the key
        container = body
        if path.startswith("configuration."):
            container = body.get("configuration")
            if not isinstance(container, dict):
                continue
            path = path.removeprefix("configuration.")
        if new is ...:
            container.pop(path, None)
        else:
            container[path] = new
    body.update(draw(unknown_fields))
    if isinstance(body.get("configuration"), dict):
        body["configuration"].update(draw(unknown_fields))
        if draw(st.booleans()) and not _has_raw(body["configuration"]):
            body["configuration"] = json.dumps(body["configuration"])  # Open Connectors accepts a JSON string
    return body


def _has_raw(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_raw(v) for v in value.values())
    return isinstance(value, Raw)


bodies = st.one_of(
    mutated_bodies().map(dumps),
    mutated_bodies().map(dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    mutated_bodies().map(dumps).flatmap(lambda text: st.integers(0, len(text)).map(lambda cut: text[:cut])),
).map(str.encode) | st.binary(max_size=200)


@st.composite
def authorizations(draw) -> tuple[str | None, bool]:
    """An Authorization header and whether it should open POST /instances."""
    user = draw(st.sampled_from(["right", "other user", "wrong", "missing", "empty"]))
    second = draw(st.sampled_from(["organization", "wrong organization", "element", "missing", "empty"]))
    secrets = {"right": DEV_USER_SECRET, "other user": OTHER_USER_SECRET, "wrong": "not-a-user-secret"}
    parts = []
    if user in secrets:
        parts.append((draw(st.sampled_from(["User", "user", "USER", "uSeR"])), secrets[user]))
    elif user == "empty":
        parts.append(("User", ""))
    if second in ("organization", "wrong organization"):
        organization = DEV_ORGANIZATION_SECRET if second == "organization" else DEV_ORGANIZATION_SECRET + "x"
        parts.append((draw(st.sampled_from(["Organization", "organization", "ORGANIZATION"])), organization))
    elif second == "element":
        parts.append(
            ("Element", draw(st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=43)))
        )
    elif second == "empty":
        parts.append(("Organization", ""))
    if draw(st.booleans()):
        parts.append((draw(st.sampled_from(["Foo", "Bearer", "Basic"])), "whatever"))
    parts = draw(st.permutations(parts))
    spaces = draw(st.sampled_from([", ", ",", " ,  ", ",\t"]))
    header, credentials_end = "", 0  # where the secret that comes last ends
    for scheme, value in parts:
        header += (spaces if header else "") + f"{scheme} {value}"
        if scheme.lower() in ("user", "organization"):
            credentials_end = len(header)
    opens = user in ("right", "other user") and second == "organization"
    garble = draw(st.sampled_from(["none", "none", "none", "missing", "random", "truncated", "no separator"]))
    if garble == "missing":
        return None, False
    if garble == "random":
        return draw(st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=80)), False
    if garble == "truncated" and opens:
        # Cut into the secret that ends last: a cut after both (in a trailing "Foo whatever") would
        # leave a header that still opens.
        return header[: draw(st.integers(0, credentials_end - 1))].rstrip(), False
    if garble == "no separator" and opens:
        return header.replace(",", " "), False
    return header, opens


def create_event(
    body: str | bytes, authorization: str | None, as_base64: bool = False, content_type: str | None = None
) -> dict:
    event = copy.deepcopy(TOKEN_EVENT)
    raw = body.encode() if isinstance(body, str) else body
    try:
        event["body"] = None if as_base64 else raw.decode("utf-8")
    except UnicodeDecodeError:
        event["body"] = None  # API Gateway hands over a body that is not UTF-8 in Base64
    if event["body"] is None:
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    event["headers"] = {k: v for k, v in event["headers"].items() if k != "authorization"}
    if authorization is not None:
        event["headers"]["authorization"] = authorization
    if content_type is not None:
        event["headers"]["content-type"] = content_type
    return event


# JSON mostly; else what a client might send by mistake (Powertools reads forms too).
content_types = st.integers(0, 2).flatmap(
    lambda pick: (
        st.sampled_from(
            [
                "",
                "text/plain",
                "APPLICATION/JSON",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "multipart/form-data; boundary=xyz",
                "application/xml",
            ]
        )
        | st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=40)
        if pick == 0
        else st.sampled_from(["application/json", "application/json; charset=utf-8"])
    )
)


@pytest.fixture
def oauth_codes(intercom):
    """A fresh authorization code per example (each is usable once), for the OAuth bodies."""

    def fresh() -> None:
        intercom.authorize("sample-client-id", code="sample-oauth-code")

    return fresh


def assert_json_error(body: Any) -> None:
    assert isinstance(body, dict), body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert isinstance(body.get("requestId"), str), body
    for error in body.get("errors", []):
        assert isinstance(error.get("field"), str) and isinstance(error.get("message"), str), error


def secrets_sent(body: bytes) -> list[str]:
    """The secret values in a body that parses, long enough not to appear in a message by chance."""
    try:
        configuration = json.loads(body).get("configuration")
        if isinstance(configuration, str):
            configuration = json.loads(configuration)
    except (ValueError, AttributeError):
        return []
    if not isinstance(configuration, dict):
        return []
    return [v for k, v in configuration.items() if k in SECRET_KEYS and isinstance(v, str) and len(v) >= 12]


@pytest.mark.filterwarnings("ignore:Received multipart/form-data without base64 encoding")
@FUZZ
@given(body=bodies, authorization=authorizations(), as_base64=st.booleans(), content_type=content_types)
def test_any_body_with_any_authorization_is_the_instance_or_a_4xx(
    api, offline, oauth_codes, body, authorization, as_base64, content_type
):
    oauth_codes()
    header, opens = authorization

    status, answer = http_answer(api, create_event(body, header, as_base64, content_type))

    event(str(status))
    assert status in (200, 400, 401, 404, 415), (status, answer)
    if status == 200:
        assert opens, header
        assert isinstance(answer["id"], int) and answer["token"]
        for key in SECRET_KEYS:
            assert answer["configuration"].get(key) in (None, "", "********"), key
    else:
        assert_json_error(answer)
        # The body is read before the caller is known: a bad body is a 400 (415) even without authorization.
        assert opens or status in (400, 401, 415), (status, answer)
    text = json.dumps(answer)
    for secret in secrets_sent(body):
        assert secret not in text


# A value of the wrong type (or out of range) for each known key, and the field the 400 must name.
WRONG = [
    ("name", st.sampled_from([123, [], {}, None, True, "", "n" * 201]), "name"),
    ("tags", st.sampled_from([5, {"a": 1}, [1, 2], [None], [["x"]], ["t"] * 51]), "tags"),
    ("element", st.sampled_from(["intercom", 5, [], {"key": 5}, {"key": None}, {}]), "element"),
    ("providerData", st.sampled_from(["code", 5, [], {"code": 5}, {"code": []}]), "providerData"),
    ("key", st.sampled_from([5, [], {}, True]), "key"),
    ("code", st.sampled_from([5, [], {}, True]), "code"),
    ("configuration", st.sampled_from([5, [1], True, "not json", "[1, 2]", '"s"', "{"]), "configuration"),
    ("configuration.authentication.type", st.sampled_from(["basic", 5, [], {}]), None),
    ("configuration.intercom.region", st.sampled_from(["mars", 5, [], {}]), None),
    ("configuration.event.notification.enabled", st.sampled_from(["maybe", [1], {}, 2, "2"]), None),
    ("configuration.event.vendor.type", st.sampled_from(["sms", 5, [], {}]), None),
    (
        "configuration.event.poller.refresh_interval",
        st.sampled_from([0, -1, 1.5, "abc", "1.5", [], {}]),
        None,
    ),
    ("configuration.event.poller.configuration", st.sampled_from(["not json", 5, "[1]", [1], True]), None),
    ("configuration.event.notification.callback.headers", st.sampled_from(["not json", 5, "[1]", [1]]), None),
    ("configuration.event.objects", st.sampled_from([5, [1, 2], {"a": 1}, True]), None),
    ("configuration.oauth.api.secret", st.sampled_from([5, [], {}, True]), None),
    ("configuration.intercom.access.token", st.sampled_from([5, [], {}, True]), None),
    ("configuration.event.notification.signature.key", st.sampled_from([5, [], {}]), None),
    ("configuration.event.notification.basic.username", st.sampled_from([5, [], {}]), None),
    ("configuration.event.notification.basic.password", st.sampled_from([5, [], {}]), None),
    ("configuration.oauth.callback.url", st.sampled_from([5, [], {}]), None),
    ("configuration.intercom.api.version", st.sampled_from([5, [], {}]), None),
    (
        "configuration.event.notification.callback.url",
        st.sampled_from(
            [5, [], "ftp://app.example.com/x", "not a url", "https://169.254.169.254/", "https://"]
        ),
        None,
    ),
    # Beyond what the store keeps: a 400, not a failed save.
    ("configuration.oauth.api.secret", huge_strings.filter(lambda s: len(s) > 4096), "configuration"),
    (
        "configuration.x-unknown",
        st.sampled_from([Raw("1e400"), Raw("NaN"), Raw("1e200"), Raw(str(10**40))]),
        None,
    ),
    ("configuration.x-unknown", st.just("u" * 500_000), "configuration"),
    ("tags", st.just(["t" * 10_000] * 5), "tags"),
]


@FUZZ
@given(
    wrong=st.sampled_from(WRONG).flatmap(lambda row: st.tuples(st.just(row), row[1])),
    extra=plain_unknown_fields,
    extra_configuration=plain_unknown_fields,
)
def test_a_wrong_value_for_a_known_key_is_a_400_naming_it(api, offline, wrong, extra, extra_configuration):
    (path, _, field), value = wrong
    body = copy.deepcopy(BASES[0])  # the private-app body: no OAuth exchange in the way
    body.update(extra)
    body["configuration"].update(extra_configuration)
    if path.startswith("configuration."):
        body["configuration"][path.removeprefix("configuration.")] = value
    else:
        body[path] = value

    status, answer = http_answer(api, create_event(dumps(body), AUTH))

    assert status == 400, (path, status, answer)
    assert_json_error(answer)
    fields = [error["field"] for error in answer.get("errors", [])]
    expected = field or path
    assert any(f == expected or f.startswith(expected + ".") for f in fields), (path, fields)


@FUZZ
@given(extra=plain_unknown_fields, extra_configuration=plain_unknown_fields, base=st.sampled_from([0, 1]))
def test_unknown_fields_do_not_stop_a_valid_body(api, offline, oauth_codes, extra, extra_configuration, base):
    oauth_codes()
    body = copy.deepcopy(BASES[base])
    body.update(extra)
    body["configuration"].update(extra_configuration)

    status, answer = http_answer(api, create_event(json.dumps(body), AUTH))

    assert status == 200, answer
    assert answer["name"] == body["name"]


@FUZZ
@given(authorization=authorizations())
def test_with_a_valid_body_the_authorization_alone_decides(api, offline, authorization):
    header, opens = authorization

    status, answer = http_answer(api, create_event(TOKEN_EVENT["body"], header))

    assert status == (200 if opens else 401), (header, status, answer)
    if status == 401:
        assert_json_error(answer)
        assert DEV_USER_SECRET not in answer["message"] and DEV_ORGANIZATION_SECRET not in answer["message"]


def test_patches_cannot_grow_an_instance_beyond_what_the_store_keeps(api, offline):
    status, created = http_answer(api, create_event(TOKEN_EVENT["body"], AUTH))
    assert status == 200
    patch = load_event("api/patch_instance.json")
    patch["rawPath"] = patch["requestContext"]["http"]["path"] = f"/elements/api-v2/instances/{created['id']}"
    answers = []
    for index in range(5):  # each within a body's limit, together beyond the item's
        patch["body"] = json.dumps({"configuration": {f"x-{index}": "x" * 90_000}})
        answers.append(http_answer(api, patch))
    assert [status for status, _ in answers] == [200, 200, 200, 400, 400]
    assert answers[-1][1]["errors"] == [
        {"field": "configuration", "message": "the configuration takes more than 300000 bytes"}
    ]
    # Secrets are sealed in one KMS call (4 KB): two patches, each small enough, together too much.
    patch["body"] = json.dumps({"configuration": {"event.notification.basic.password": "p" * 3000}})
    assert http_answer(api, patch)[0] == 200
    patch["body"] = json.dumps({"configuration": {"event.notification.signature.key": "k" * 1500}})
    status, answer = http_answer(api, patch)
    assert status == 400 and answer["errors"][0]["field"] == "configuration", answer
    assert "p" * 100 not in json.dumps(answer) and "k" * 100 not in json.dumps(answer)
