"""Every route of the API under input fuzzed in its structure, not only its values: bodies nested
thousands deep, integers of thousands of digits, NaN and 1e400, lone surrogates, NUL, non-characters,
long strings; path parameters that overflow or are not numbers; query strings with repeated keys,
extreme dates and forged page tokens; authorization headers huge, with NUL, not ASCII. Whatever comes
in, the answer is never a 5xx, and every error is the API's JSON error with the request's id.

The routes are read from the committed OpenAPI document (a test keeps it equal to the code's), so a
new route is fuzzed as soon as it exists."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from intercom_events.intercom.signature import hub_signature

from tests.conftest import AUTH, http_answer, load_event
from tests.property.json_text import broken_texts, json_texts, notifications

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
ROUTES = [
    (method.upper(), path, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
CLIENT_SECRET = "sample-client-secret"  # the webhook secret of events/api/create_instance_token.json
REQUEST_ID = load_event("api/get_instance.json")["requestContext"]["requestId"]


def mostly(usual: st.SearchStrategy, unusual: st.SearchStrategy) -> st.SearchStrategy:
    """`usual` three times in four, so that most examples get past the route's first checks."""
    return st.integers(0, 3).flatmap(lambda pick: unusual if pick == 0 else usual)


# What a path segment can hold and still reach the route (Powertools matches word characters and the
# URI's punctuation; a '/' would name another route).
segment_text = st.text(
    st.characters(exclude_characters="/?#", exclude_categories=["Cs"]), min_size=1, max_size=60
)
instance_ids = mostly(
    st.just("1"),
    st.one_of(
        st.sampled_from(["0", "-1", "1e3", "1.0", "0x1", "01", "+1", "\u0661", "%31", " 1", "1 ", "%00"]),
        st.sampled_from([str(2**63 - 1), str(2**63), str(10**30), "9" * 40, "9" * 5000]),
        st.integers(-(10**40), 10**40).map(str),
        segment_text,
    ),
)
event_ids = st.one_of(
    st.uuids().map(str),
    segment_text,
    st.integers(100, 5000).map(lambda size: "e" * size),
    st.sampled_from(["%00", "%ED%A0%80", "..", "EVENT#x", "é" * 300]),
)
encoded_ids = mostly(
    st.sampled_from(["MQ==", "MQ"]),
    st.one_of(
        st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
        st.integers(-(10**40), 10**40).map(lambda n: base64.b64encode(str(n).encode()).decode()),
        segment_text,
    ),
)
PATH_VALUES = {"instance_id": instance_ids, "event_id": event_ids, "encoded_id": encoded_ids}


def _token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _page_key(instance: Any, sk: Any, gsi2sk: Any) -> dict[str, Any]:
    return {
        "pk": {"S": f"INSTANCE#{instance}"},
        "sk": {"S": sk},
        "gsi2pk": {"S": f"EVENTS#{instance}"},
        "gsi2sk": {"S": gsi2sk},
    }


page_tokens = st.one_of(
    # Forged but well-formed: this instance's, another's, other dates, keys DynamoDB could not take.
    st.builds(
        _page_key,
        st.sampled_from([1, 2, "1 ", "01", 10**40]),
        st.sampled_from(["EVENT#x", "EVENT#" + "x" * 2000, "JOB#x", "", "EVENT#\x00"]),
        st.sampled_from(["2026-11-27T10:00:00.000Z#x", "", "~", "0000", "x" * 2000, "2026\ud800"]),
    ).map(_token),
    st.dictionaries(st.sampled_from(["pk", "sk", "gsi2pk", "gsi2sk", "x"]), st.just({"N": "1"})).map(_token),
    st.dictionaries(
        st.sampled_from(["pk", "sk", "gsi2pk", "gsi2sk"]),
        st.one_of(
            st.none(), st.integers(), st.text(max_size=5), st.just({"S": 5}), st.just({"S": "x", "N": "1"})
        ),
    ).map(_token),
    # Base64 of any JSON text, of anything, and what is not Base64.
    json_texts.map(lambda text: base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()),
    st.binary(max_size=200).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    st.text(max_size=100),
)
dates = mostly(
    st.sampled_from(["2026-11-27", "2026-11-27T10:00:00Z", "2000-01-01T00:00:00+14:00"])
    | st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
            "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
            "0001-01-01",
            "9999-12-31T23:59:59.999999",
            "2026-13-45",
            "2026-02-30",
            "+275760-09-13",
            "2026-11-27T25:61:61Z",
            "2026-11-27T10:00:00+99:99",
            "1e400",
            "",
        ]
    )
    | st.text(max_size=40),
)
any_query_value = st.text(max_size=80) | st.integers(1, 20_000).map(lambda size: "v" * size)
# Mostly values that pass the parameter's own check, so that the others' reach the store.
QUERY_VALUES = {
    "status": mostly(st.sampled_from(["pending", "failed", "queued"]), st.text(max_size=20)),
    "from": dates,
    "to": dates,
    "nextPage": page_tokens,
    "pageSize": mostly(
        st.integers(1, 200).map(str),
        st.integers(-(10**30), 10**30).map(str)
        | st.sampled_from(["1e3", "1.5", "", " 5", "0x10", "9" * 5000, "NaN"]),
    ),
    "apiKey": mostly(st.just("sample-client-id"), any_query_value),
    "callbackUrl": mostly(st.just("https://app.example.com/oauth"), any_query_value),
}


@st.composite
def query_strings(draw: st.DrawFn, names: list[str]) -> list[tuple[str, str]]:
    """The route's own parameters (some repeated), and unknown ones."""
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    if chosen and draw(st.integers(0, 3)) == 0:
        chosen.append(draw(st.sampled_from(chosen)))  # a key repeated
    pairs = [(name, draw(QUERY_VALUES.get(name, any_query_value))) for name in chosen]
    for name in draw(st.lists(st.text(min_size=1, max_size=10), max_size=2)):
        pairs.append((name, draw(any_query_value)))
    return pairs


authorizations = mostly(
    st.just(AUTH),
    st.one_of(
        st.just("x" * 1_000_000),
        st.just(AUTH + ", " + "Element " + "e" * 100_000),
        st.sampled_from(
            [
                "User \x00",
                "User dev-user-secret\x00, Organization dev-organization-secret",
                "User dév-üser-sécret, Organization ö",
                "User dev-user-secret, Organization dev-organization-secret\u00a0",
                "User\tdev-user-secret,\tOrganization\tdev-organization-secret",
                "Bearer " + "é" * 1000,
                ",,,,",
                "User",
                "",
            ]
        ),
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200),
        st.none(),
    ),
)
content_types = mostly(
    st.just("application/json"), st.sampled_from(["", "text/plain", "application/json; x"])
)


@st.composite
def create_bodies(draw: st.DrawFn) -> str:
    """A valid create body with one value (or the configuration's) replaced by any JSON text."""
    body = json.loads(load_event("api/create_instance_token.json")["body"])
    configuration = body["configuration"]
    keys = [f"configuration.{k}" for k in configuration] + list(body) + ["configuration.x-extra", "x-extra"]
    target = draw(st.sampled_from(keys))
    fragment = draw(json_texts)
    marker = "\x00FRAGMENT\x00"
    if target.startswith("configuration."):
        configuration[target.removeprefix("configuration.")] = marker
    else:
        body[target] = marker
    return json.dumps(body).replace(json.dumps(marker), fragment)


def bodies_for(method: str, path: str) -> st.SearchStrategy[str]:
    if path.endswith("/events/intercom/{encoded_id}") and method == "POST":
        return st.one_of(notifications(), notifications(), json_texts, broken_texts)
    if path.endswith("/instances") and method == "POST":
        return st.one_of(create_bodies(), create_bodies(), json_texts, broken_texts)
    if method == "PATCH":
        wrapped = json_texts.map(lambda text: f'{{"configuration": {{"x-extra": {text}}}, "name": "n"}}')
        return st.one_of(wrapped, wrapped, json_texts, broken_texts)
    return st.just("") | json_texts  # a body no route reads


def request_event(
    method: str, path: str, body: str, query: list[tuple[str, str]], headers: dict[str, str]
) -> dict[str, Any]:
    event = copy.deepcopy(load_event("api/get_instance.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.removeprefix("/elements/api-v2/")}
    event["headers"] = {k: v for k, v in event["headers"].items() if k != "authorization"} | headers
    # API Gateway joins the values of a repeated key with commas.
    event["rawQueryString"] = "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    joined: dict[str, str] = {}
    for name, value in query:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    if joined:
        event["queryStringParameters"] = joined
    raw = body.encode("utf-8", "surrogatepass")
    try:
        event["body"], event["isBase64Encoded"] = raw.decode("utf-8"), False
    except UnicodeDecodeError:  # a lone surrogate written raw: bytes API Gateway hands over in Base64
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    return event


@pytest.fixture
def instance(api, offline, intercom) -> dict[str, Any]:
    """Instance 1 (Base64 "MQ=="), for webhooks on; Intercom simulated on loopback for OAuth bodies."""
    status, body = http_answer(api, load_event("api/create_instance_token.json"))
    assert status == 200, body
    return body


@pytest.mark.filterwarnings("ignore:Received multipart/form-data without base64 encoding")
@pytest.mark.parametrize(("method", "template"), [(m, p) for m, p, _ in ROUTES], ids=lambda v: str(v))
@FUZZ
@given(data=st.data())
def test_no_input_to_any_route_makes_a_5xx(api, instance, method, template, data):
    operation = next(op for m, p, op in ROUTES if (m, p) == (method, template))
    path = template
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = data.draw(PATH_VALUES[parameter["name"]], parameter["name"])
            path = path.replace("{" + parameter["name"] + "}", value)
    query_names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    query = data.draw(query_strings(query_names), "query")
    body = data.draw(bodies_for(method, template), "body")
    headers = {"content-type": data.draw(content_types, "content-type")}
    authorization = data.draw(authorizations, "authorization")
    if authorization is not None:
        headers["authorization"] = authorization
    if template.endswith("/events/intercom/{encoded_id}") and data.draw(
        mostly(st.just(True), st.just(False)), "signed"
    ):
        headers["x-hub-signature"] = hub_signature(body.encode("utf-8", "surrogatepass"), CLIENT_SECRET)

    status, answer = http_answer(api, request_event(method, path, body, query, headers))

    event(f"{method} {template} {status} {answer.get('message') if isinstance(answer, dict) else ''}")
    assert status < 500, (status, answer)
    if status >= 400 and method != "HEAD":
        assert isinstance(answer, dict), answer
        assert isinstance(answer.get("message"), str) and answer["message"], answer
        assert answer.get("requestId") == REQUEST_ID, answer
        for error in answer.get("errors", []):
            assert isinstance(error.get("field"), str) and isinstance(error.get("message"), str), error
