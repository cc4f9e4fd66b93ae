"""Webhook intake under random input (issue #4): bodies, signatures, ids and headers as Intercom, a
broken proxy or an attacker might send them. The intake answers 2xx or 4xx, never 5xx; every error is
the API's JSON error; and nothing reaches the queue unless the signature was right."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from intercom_events.intercom.signature import hub_signature

from tests.conftest import http_answer, load_event
from tests.property.json_text import broken_texts, json_texts, notifications

CLIENT_SECRET = "sample-client-secret"  # the one events/api/create_instance_token.json configures
INSTANCE_ID = "MQ=="  # standard Base64 of "1", the first instance's id
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
NOTIFICATIONS = [path.read_bytes() for path in sorted(FIXTURES.glob("*.json"))] + [
    load_event(f"api/{name}.json")["body"].encode()
    for name in ("webhook_contact_created", "webhook_conversation_admin_replied", "webhook_ping")
]
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def mostly(usual: st.SearchStrategy, unusual: st.SearchStrategy) -> st.SearchStrategy:
    """`usual` three times in four: random input rarely gets past the first check on its own."""
    return st.integers(0, 3).flatmap(lambda pick: unusual if pick == 0 else usual)


TOPICS = [
    "ping",
    "contact.user.created",
    "contact.tag.created",
    "conversation.contact.attached",
    "ticket.state.updated",
]
# Shapes close to a notification, so that fuzzing reaches normalisation and the queue, not only the parser.
notification_like = st.fixed_dictionaries(
    {
        "type": mostly(st.just("notification_event"), json_values),
        "topic": mostly(st.sampled_from(TOPICS) | st.text(max_size=30), json_values),
    },
    optional={
        "id": json_values | st.text(max_size=40),
        "created_at": st.integers() | st.floats() | st.text(max_size=30) | json_values,
        "first_sent_at": json_values,
        "app_id": json_values,
        "data": json_values
        | st.fixed_dictionaries(
            {
                "item": json_values
                | st.dictionaries(
                    st.sampled_from(["id", "type", "contact", "conversation"]) | st.text(max_size=10),
                    json_values,
                )
            }
        ),
    },
)
bodies = st.one_of(
    st.sampled_from(NOTIFICATIONS),
    notification_like.map(lambda value: json.dumps(value).encode()),
    notification_like.map(lambda value: json.dumps(value).encode()),  # twice: the likeliest to go far
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    # Structure: nesting thousands deep, NaN, 1e400, huge integers, lone surrogates, NUL, non-characters.
    notifications().map(str.encode),
    notifications().map(str.encode),
    json_texts.map(str.encode),
    broken_texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
    # Big notifications: one SQS message is not enough for them (SPEC §4).
    st.integers(min_value=10_000, max_value=400_000).map(
        lambda size: json.dumps(
            {
                "type": "notification_event",
                "id": f"big-{size}",
                "topic": "conversation.user.created",
                "data": {"item": {"id": "1", "body": "x" * size}},
            }
        ).encode()
    ),
)
# Ids: the right one in its spellings (often, so that most examples get past the lookup), other
# instances, and whatever fits a path segment.
RIGHT_IDS = [INSTANCE_ID, "MQ", "MQ="]
right_ids = st.sampled_from(RIGHT_IDS)
other_ids = st.one_of(
    st.sampled_from(["NDEw", "MA==", "LTE=", "MS4w", "IDE=", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5"]),
    st.integers(min_value=-5, max_value=10**20).map(lambda n: base64.b64encode(str(n).encode()).decode()),
    st.binary(max_size=24).map(lambda raw: base64.b64encode(raw).decode()),
    st.binary(max_size=24).map(lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")),
    st.text(st.characters(codec="ascii", exclude_characters="/?#\x00"), min_size=1, max_size=40),
    st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s and "?" not in s and "#" not in s),
)
encoded_ids = mostly(right_ids, other_ids)
header_names = st.text(
    st.characters(codec="ascii", categories=["Ll", "Nd"], include_characters="-_"), min_size=1, max_size=20
)
header_values = st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=60)
extra_headers = st.dictionaries(
    st.sampled_from(
        ["content-type", "content-length", "host", "x-forwarded-proto", "authorization", "accept"]
    )
    | header_names,
    header_values,
    max_size=5,
)


def may_name_the_instance(encoded_id: str) -> bool:
    """Whether a URL can name the instance: other ids than RIGHT_IDS do too ("MDE=" is "01")."""
    try:
        text = base64.b64decode(encoded_id + "=" * (-len(encoded_id) % 4), validate=True).decode("ascii")
    except ValueError:
        return False
    return text.isdigit() and int(text) == 1


def signature_for(kind: str, body: bytes, data: st.DataObject) -> str | None:
    right = hub_signature(body, CLIENT_SECRET)
    return {
        "right": right,
        "right-upper-hex": "sha1=" + right[5:].upper(),
        "right-padded": f"  {right} ",
        "missing": None,
        "empty": "",
        "other-secret": hub_signature(body, "not-the-client-secret"),
        "other-body": hub_signature(body + b" ", CLIENT_SECRET),
        "sha256": "sha256=" + right[5:],
        "truncated": right[:-1],
        "random-hex": "sha1=" + data.draw(st.text("0123456789abcdef", min_size=40, max_size=40), "hex"),
        "random": data.draw(header_values, "random signature"),
    }[kind]


SIGNATURE_KINDS = [
    "right",
    "right-upper-hex",
    "right-padded",
    "missing",
    "empty",
    "other-secret",
    "other-body",
    "sha256",
    "truncated",
    "random-hex",
    "random",
]
RIGHT_SIGNATURES = {"right", "right-upper-hex", "right-padded"}
# Right half of the time, so that the queue is reached as often as the rejections are.
signature_kinds = st.booleans().flatmap(
    lambda right: st.sampled_from(sorted(RIGHT_SIGNATURES) if right else SIGNATURE_KINDS)
)


def webhook_event(
    method: str, encoded_id: str, body: bytes, as_base64: bool, headers: dict[str, str]
) -> dict:
    event = copy.deepcopy(load_event("api/webhook_contact_created.json"))
    path = f"/elements/api-v2/events/intercom/{encoded_id}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.removeprefix("/elements/api-v2/")}
    event["headers"] = {k: v for k, v in event["headers"].items() if k != "x-hub-signature"} | headers
    try:
        text = None if as_base64 else body.decode("utf-8")
    except UnicodeDecodeError:
        text = None  # API Gateway hands over a body that is not UTF-8 in Base64
    if text is None:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = text, False
    return event


@pytest.fixture
def enqueued(api, monkeypatch) -> list[Any]:
    """Every job the intake hands to the queue (still sent to moto's SQS)."""
    from intercom_events.logic import intake

    jobs: list[Any] = []
    send = intake.queue.send

    def recording_send(batch):
        jobs.extend(batch)
        send(batch)

    monkeypatch.setattr(intake.queue, "send", recording_send)
    return jobs


@pytest.fixture
def instance(api) -> dict[str, Any]:
    status, body = http_answer(api, load_event("api/create_instance_token.json"))
    assert status == 200, body
    return body


def assert_json_error(body: Any) -> None:
    assert isinstance(body, dict), body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert "requestId" in body, body
    if "errors" in body:
        assert all(
            isinstance(e.get("field"), str) and isinstance(e.get("message"), str) for e in body["errors"]
        )


@FUZZ
@given(
    encoded_id=encoded_ids,
    body=bodies,
    kind=signature_kinds,
    as_base64=st.booleans(),
    headers=extra_headers,
    data=st.data(),
)
def test_intake_never_fails_and_enqueues_only_what_is_signed(
    api, instance, enqueued, encoded_id, body, kind, as_base64, headers, data
):
    enqueued.clear()
    signature = signature_for(kind, body, data)
    if signature is not None:
        headers = headers | {"x-hub-signature": signature}
    else:
        headers = {k: v for k, v in headers.items() if k != "x-hub-signature"}

    status, answer = http_answer(api, webhook_event("POST", encoded_id, body, as_base64, headers))

    event(f"{status} {answer.get('status', '') if isinstance(answer, dict) else ''}")  # shown by
    # --hypothesis-show-statistics: how many examples got how far
    assert status in (200, 400, 401, 404), (status, answer)
    if status >= 400:
        assert_json_error(answer)
        assert enqueued == []
    else:
        assert isinstance(answer, dict) and answer.get("status") in (
            "accepted",
            "ping",
            "dropped",
            "filtered",
        )
    if enqueued:
        assert kind in RIGHT_SIGNATURES and may_name_the_instance(encoded_id), (kind, encoded_id)
        assert answer == {"status": "accepted", "events": sum(len(job.events) for job in enqueued)}
    if encoded_id in RIGHT_IDS and kind not in RIGHT_SIGNATURES:
        assert status == 401, (status, answer)


@FUZZ
@given(encoded_id=encoded_ids, method=st.sampled_from(["HEAD", "GET"]), headers=extra_headers)
def test_the_url_check_answers_200_or_404_only(api, instance, encoded_id, method, headers):
    status, answer = http_answer(api, webhook_event(method, encoded_id, b"", False, headers))

    assert status in (200, 404), (status, answer)
    if status == 404:
        assert_json_error(answer)
    if encoded_id == INSTANCE_ID:
        assert status == 200
