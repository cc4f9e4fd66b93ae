"""The event log's query under random input: dates alone, reversed or at the ends of the calendar,
statuses, page sizes, and page tokens real (of this query, of other dates, of another instance) or
forged. The answer is a page or a 400, never a 5xx, and a page holds only the instance's own events:
no token opens another instance's log."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from intercom_events.store import deliveries

from tests.conftest import OTHER_AUTH, http_answer, invoke, load_event
from tests.property.json_text import json_texts

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
EVENTS_PER_INSTANCE = 12


def list_event(instance_id: int, query: dict[str, str], authorization: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("api/get_instance.json"))
    path = f"/elements/api-v2/instances/{instance_id}/events"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"proxy": path.removeprefix("/elements/api-v2/")}
    event["rawQueryString"] = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
    if query:
        event["queryStringParameters"] = dict(query)
    if authorization:
        event["headers"]["authorization"] = authorization
    return event


@pytest.fixture
def logs(api) -> dict[int, set[str]]:
    """Two instances of two users, each with a log of events an hour apart; their event ids."""
    first = load_event("api/create_instance_token.json")
    second = copy.deepcopy(first)
    second["headers"]["authorization"] = OTHER_AUTH
    assert http_answer(api, first)[0] == 200 and http_answer(api, second)[0] == 200
    ids: dict[int, set[str]] = {1: set(), 2: set()}
    for instance_id in ids:
        for index in range(EVENTS_PER_INSTANCE):
            moment = START + timedelta(hours=index)
            event_id = f"event-{instance_id}-{index:02d}"
            status = ("queued", "failed", "cancelled")[index % 3]
            order = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            deliveries.record_status(instance_id, event_id, status, moment, order=order)
            ids[instance_id].add(event_id)
    return ids


dates = st.one_of(
    st.integers(-48, 24 * 20).map(
        lambda hours: (START + timedelta(hours=hours)).isoformat(timespec="seconds").replace("+00:00", "Z")
    ),
    st.sampled_from(
        [
            "2026-11-27",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01",
            "9999-12-31",
            "2026-02-30",
            "not a date",
            "",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
)


def forged(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def key_of(instance: Any, event_id: str, order: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"INSTANCE#{instance}"},
        "sk": {"S": f"EVENT#{event_id}"},
        "gsi2pk": {"S": f"EVENTS#{instance}"},
        "gsi2sk": {"S": f"{order}#{event_id}"},
    }


ORDER = "2026-11-27T12:00:00.000Z"
forged_tokens = st.one_of(
    st.sampled_from(
        [
            forged(key_of(2, "event-2-02", ORDER)),  # another instance's event, well-formed
            forged({**key_of(1, "event-1-02", ORDER), "pk": {"S": "INSTANCE#2"}}),
            forged({**key_of(1, "event-1-02", ORDER), "gsi2pk": {"S": "EVENTS#2"}}),
            forged({**key_of(1, "event-1-02", ORDER), "sk": {"S": "INSTANCE"}}),
            forged({**key_of(1, "event-1-02", ORDER), "x": {"S": "y"}}),
            forged({**key_of(1, "event-1-02", ORDER), "sk": {"N": "1"}}),
            forged({**key_of(1, "event-1-02", ORDER), "sk": {"S": 5}}),
            forged({**key_of(1, "event-1-02", ORDER), "sk": {"S": "EVENT#" + "x" * 2000}}),
            forged(key_of(1, "event-1-02", "0000")),
            forged(key_of(1, "event-1-02", "~")),
            forged({"pk": 5}),
            forged([1, 2]),
            "%%%",
            "",
        ]
    ),
    st.dictionaries(
        st.sampled_from(["pk", "sk", "gsi2pk", "gsi2sk"]), json_texts.map(lambda _: {"S": "x"})
    ).map(forged),
    json_texts.map(lambda text: base64.urlsafe_b64encode(text.encode()).decode()),
    st.text(max_size=60),
)


@FUZZ
@given(
    since=st.none() | dates,
    until=st.none() | dates,
    status=st.none() | st.sampled_from(["queued", "failed", "cancelled", "delivered", "nope"]),
    page_size=st.none() | st.integers(-5, 300).map(str),
    token=st.none()
    | forged_tokens
    | st.tuples(st.sampled_from([1, 2]), st.none() | dates, st.none() | dates, st.integers(0, 5)),
)
def test_any_query_of_the_event_log_is_a_page_of_its_own_events_or_a_400(
    api, logs, since, until, status, page_size, token
):
    query = {
        name: value
        for name, value in (("from", since), ("to", until), ("status", status), ("pageSize", page_size))
        if value is not None
    }
    if isinstance(token, tuple):  # a real token: of instance 1 or 2, for these dates or others
        owner, token_since, token_until, index = token
        honest = {n: v for n, v in (("from", token_since), ("to", token_until)) if v is not None}
        owner_auth = None if owner == 1 else OTHER_AUTH
        real = pages(api, owner, owner_auth, honest)
        token = real[index % len(real)] if real else None
    if token is not None:
        query["nextPage"] = token

    status_code, answer, _ = listed(api, 1, None, query)

    event(str(status_code))
    assert status_code in (200, 400), (status_code, answer)
    if status_code == 200:
        assert {item["eventId"] for item in answer} <= logs[1], answer
    else:
        assert isinstance(answer, dict) and answer["message"] and answer["requestId"], answer


def listed(
    api, instance_id: int, authorization: str | None, query: dict[str, str]
) -> tuple[int, Any, str | None]:
    """Status, body and Elements-Next-Page-Token of one listing."""
    answer = invoke(api, list_event(instance_id, query, authorization), "api")
    body = json.loads(answer["body"]) if answer.get("body") else None
    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    return answer["statusCode"], body, headers.get("elements-next-page-token")


def pages(api, instance_id: int, authorization: str | None, query: dict[str, str]) -> list[str] | None:
    """The page tokens an honest client of `instance_id` is given for `query` (None: no such query)."""
    tokens: list[str] = []
    query = {**query, "pageSize": "3"}
    while True:
        status, _, token = listed(api, instance_id, authorization, query)
        if status != 200:
            return None
        if not token:
            return tokens
        tokens.append(token)
        query = {**query, "nextPage": token}


def test_a_page_token_of_another_instance_is_a_400_not_its_events(api, logs):
    tokens = pages(api, 2, OTHER_AUTH, {})
    assert tokens

    for token in tokens:
        status, answer, _ = listed(api, 1, None, {"nextPage": token})

        assert status == 400, answer
        assert answer["errors"] == [{"field": "nextPage", "message": "invalid page token"}]


def test_every_page_of_the_log_is_listed_once_with_its_tokens(api, logs):
    seen: list[str] = []
    query: dict[str, str] = {"pageSize": "5"}
    while True:
        status, page, token = listed(api, 1, None, query)
        assert status == 200
        seen += [item["eventId"] for item in page]
        if not token:
            break
        query["nextPage"] = token

    assert sorted(seen) == sorted(logs[1])
