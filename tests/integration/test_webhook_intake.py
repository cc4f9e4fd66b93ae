"""Webhook intake (SPEC §4), invoked in-process with the sample events of events/api/."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from intercom_events.intercom.signature import hub_signature

from tests.conftest import http_answer, invoke, load_event, too_deep_field

CLIENT_SECRET = "sample-client-secret"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "intercom" / "webhooks"


def queued(aws) -> list[dict[str, Any]]:
    """Take every job off the queue."""
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def signed(event: dict[str, Any], body: bytes, secret: str = CLIENT_SECRET, path: str | None = None) -> dict:
    event = copy.deepcopy(event)
    event["body"] = body.decode()
    event["headers"]["x-hub-signature"] = hub_signature(body, secret)
    if path:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


@pytest.fixture
def instance(api) -> dict[str, Any]:
    status, body = http_answer(api, load_event("api/create_instance_token.json"))
    assert status == 200
    return body


def test_a_signed_notification_is_enqueued_as_one_callback_job(api, aws, instance):
    status, body = http_answer(api, load_event("api/webhook_contact_created.json"))

    assert status == 200 and body == {"status": "accepted", "events": 1}
    [job] = queued(aws)
    assert job["instanceId"] == 1 and job["source"] == "webhook"
    assert job["raw"] == json.loads(load_event("api/webhook_contact_created.json")["body"])
    assert job["events"] == [
        {
            "date": "2026-11-27T10:00:00Z",
            "elementKey": "intercom",
            "hubKey": "marketing",
            "eventType": "CREATED",
            "objectId": "6961d4041c1e12de4c5499cc",
            "objectType": "contacts",
        }
    ]


def test_a_resent_notification_gets_the_same_event_id(api, aws, instance):
    http_answer(api, load_event("api/webhook_contact_created.json"))
    http_answer(api, load_event("api/webhook_contact_created.json"))
    first, second = queued(aws)
    assert first["eventId"] == second["eventId"]
    assert first["notificationId"] == second["notificationId"]


def test_ping_is_acknowledged_without_a_callback(api, aws, instance):
    status, body = http_answer(api, load_event("api/webhook_ping.json"))
    assert status == 200 and body["status"] == "ping"
    assert queued(aws) == []


@pytest.mark.parametrize("signature", [None, "", "sha1=0000", "sha256=abc", "garbage"])
def test_a_missing_or_wrong_signature_is_401_and_nothing_is_kept(api, aws, instance, signature):
    event = load_event("api/webhook_contact_created.json")
    if signature is None:
        del event["headers"]["x-hub-signature"]
    else:
        event["headers"]["x-hub-signature"] = signature
    status, _ = http_answer(api, event)
    assert status == 401
    assert queued(aws) == []


def test_a_signature_made_with_another_secret_is_401(api, aws, instance):
    event = load_event("api/webhook_contact_created.json")
    status, _ = http_answer(api, signed(event, event["body"].encode(), secret="not-the-client-secret"))
    assert status == 401


def test_unknown_instance_is_404(api, aws):
    status, body = http_answer(api, load_event("api/webhook_contact_created.json"))
    assert status == 404 and body["message"]


@pytest.mark.parametrize("encoded", ["!!!", "YWJj", "LTE=", "MS4w", "%%%"])
def test_an_id_that_is_not_base64_of_a_number_is_404(api, aws, instance, encoded):
    event = load_event("api/webhook_contact_created.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/elements/api-v2/events/intercom/{encoded}"
    assert http_answer(api, event)[0] == 404


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"type": "something_else", "topic": "contact.created"}',
        b'{"type": "notification_event"}',
    ],
)
def test_a_body_that_is_not_a_notification_is_400(api, aws, instance, body):
    status, answer = http_answer(api, signed(load_event("api/webhook_contact_created.json"), body))
    assert status == 400 and answer["message"]
    assert queued(aws) == []


def test_a_disabled_instance_acknowledges_and_drops(api, aws, instance):
    http_answer(api, load_event("api/disable_instance.json"))
    status, body = http_answer(api, load_event("api/webhook_contact_created.json"))
    assert status == 200 and body["status"] == "dropped"
    assert queued(aws) == []


def test_objects_outside_event_objects_are_acknowledged_and_not_enqueued(api, aws, instance):
    http_answer(api, load_event("api/patch_instance.json"))  # event.objects = contacts
    status, body = http_answer(api, load_event("api/webhook_conversation_admin_replied.json"))
    assert status == 200 and body["status"] == "filtered"
    assert queued(aws) == []
    assert http_answer(api, load_event("api/webhook_contact_created.json"))[1]["status"] == "accepted"


def test_head_and_get_answer_200_for_a_live_instance(api, aws, instance):
    head = load_event("api/webhook_head.json")
    assert invoke(api, head)["statusCode"] == 200
    get = copy.deepcopy(head)
    get["requestContext"]["http"]["method"] = "GET"
    assert invoke(api, get)["statusCode"] == 200


def test_a_base64_encoded_body_is_verified_over_its_decoded_bytes(api, aws, instance):
    import base64

    event = load_event("api/webhook_contact_created.json")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert http_answer(api, event)[0] == 200
    assert len(queued(aws)) == 1


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/fixtures is not beside this clone")
def test_every_real_intercom_notification_goes_through_the_real_intake(api, aws, instance):
    from tests.unit.test_shared_fixtures import EXPECTED

    template = load_event("api/webhook_contact_created.json")
    for path in sorted(SHARED.glob("*.json")):
        body = path.read_bytes()
        status, answer = http_answer(api, signed(template, body))
        assert status == 200, (path.name, answer)
        jobs = queued(aws)
        expected = EXPECTED[path.name]
        if expected is None:
            assert jobs == [], path.name
            continue
        [job] = jobs
        [event] = job["events"]
        assert (event["objectType"], event["eventType"], event["objectId"]) == expected, path.name
        assert job["raw"] == json.loads(body)


# ---- bodies no parser or later step may choke on: a 400 after the signature, never a 5xx ----------------

NOTIFICATION = '{"type": "notification_event", "id": "notif_1", "topic": "contact.user.created", "data": %s}'


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (NOTIFICATION % ("[" * 300 + "]" * 300), "data." + ".".join(["0"] * 31), "nests deeper than 32"),
        (
            NOTIFICATION % ('{"item": ' * 40 + "1" + "}" * 40),
            "data." + ".".join(["item"] * 31),
            "nests deeper",
        ),
        (
            NOTIFICATION % ("[" * 5000 + "]" * 5000),
            too_deep_field(NOTIFICATION % ("[" * 5000 + "]" * 5000), "data." + ".".join(["0"] * 31)),
            "nests deeper than 32",
        ),
        (NOTIFICATION % '{"item": {"type": "contact", "id": "\\ud800"}}', "data.item.id", "lone surrogate"),
        (
            NOTIFICATION % '{"item": {"type": "contact", "id": "1", "\\udfff": 1}}',
            "data.item.\\udfff",
            "surrogate",
        ),
        (
            NOTIFICATION % '{"item": {"type": "contact", "id": "1", "x": NaN}}',
            "data.item.x",
            "not a finite number",
        ),
        (
            NOTIFICATION % '{"item": {"type": "contact", "id": "1", "x": -Infinity}}',
            "data.item.x",
            "not a finite",
        ),
        (
            NOTIFICATION % '{"item": {"type": "contact", "id": "1", "x": 1e400}}',
            "data.item.x",
            "not a finite",
        ),
        (
            NOTIFICATION % ('{"item": {"type": "contact", "id": ' + "9" * 5000 + "}}"),
            "body",
            "more than 4300 digits",
        ),
        ('{"type": "notification_event", "id": "\\ud800", "topic": "ping"}', "id", "lone surrogate"),
        ('{"type": "notification_event", "topic": "\\ud800.created"}', "topic", "lone surrogate"),
        ('{"type": "notification_event", "topic": "%s"}' % ("t" * 256), "topic", "over 255"),
        ('{"type": "notification_event", "topic": "ping", "id": "%s"}' % ("i" * 256), "id", "over 255"),
    ],
    ids=[
        "array-300-deep",
        "object-40-deep",
        "array-5000-deep",
        "lone-surrogate-value",
        "lone-surrogate-key",
        "NaN",
        "-Infinity",
        "1e400",
        "integer-of-5000-digits",
        "lone-surrogate-id",
        "lone-surrogate-topic",
        "topic-too-long",
        "id-too-long",
    ],
)
def test_a_signed_body_that_later_steps_could_not_carry_is_400_and_nothing_is_kept(
    api, aws, instance, body, field, problem
):
    status, answer = http_answer(api, signed(load_event("api/webhook_contact_created.json"), body.encode()))

    assert status == 400, answer
    assert answer["requestId"] and answer["message"]
    [error] = answer["errors"]
    assert error["field"] == field and problem in error["message"], error
    assert queued(aws) == []


def test_an_unsigned_body_is_refused_by_its_signature_before_it_is_read(api, aws, instance):
    event = signed(load_event("api/webhook_contact_created.json"), ("[" * 5000 + "]" * 5000).encode())
    event["headers"]["x-hub-signature"] = hub_signature(b"another body", CLIENT_SECRET)

    status, answer = http_answer(api, event)

    assert status == 401, answer
    assert queued(aws) == []


def test_a_body_that_is_not_base64_as_announced_is_400(api, aws, instance):
    event = signed(load_event("api/webhook_contact_created.json"), b"{}")
    event["body"], event["isBase64Encoded"] = "not base64!", True

    status, answer = http_answer(api, event)

    assert status == 400 and answer["requestId"], answer


# SQS takes only these characters in a message (its SendMessage reference); moto does not check.
SQS_CHARACTERS = "[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*"


def test_odd_but_valid_text_reaches_the_queue_as_sqs_takes_it(api, aws, instance):
    item = {"type": "contact", "id": "c1", "note": "\uffff\ufffe\ufdd0\x00\x7f\u2028\U0001f600 é"}
    body = json.dumps(
        {"type": "notification_event", "id": "n1", "topic": "contact.user.created", "data": {"item": item}}
    )
    sqs = aws.client("sqs")

    status, answer = http_answer(api, signed(load_event("api/webhook_contact_created.json"), body.encode()))

    assert (status, answer) == (200, {"status": "accepted", "events": 1})
    [message] = sqs.receive_message(QueueUrl=aws.queue_url).get("Messages", [])
    assert re.fullmatch(SQS_CHARACTERS, message["Body"])
    assert json.loads(message["Body"])["raw"]["data"]["item"] == item  # the same text, escaped


def test_a_notification_nested_up_to_the_limit_is_accepted(api, aws, instance):
    deep = "[" * 29 + "]" * 29  # the body's 32nd level: root, data, item and 29 arrays
    body = NOTIFICATION % ('{"item": {"type": "contact", "id": "c1", "deep": ' + deep + "}}")

    status, answer = http_answer(api, signed(load_event("api/webhook_contact_created.json"), body.encode()))

    assert (status, answer) == (200, {"status": "accepted", "events": 1})
    [job] = queued(aws)
    assert job["raw"] == json.loads(body)


def test_a_warm_webhook_makes_one_aws_call_its_send(api, aws, instance, monkeypatch):
    # The instance is cached between webhooks: once warm, each costs its SendMessage and nothing else
    # (make bench counts the same over thousands; this is the small version).
    from intercom_events.config import settings
    from intercom_events.store.aws import client

    monkeypatch.setenv("INSTANCE_CACHE_SECONDS", "300")
    settings.cache_clear()
    template = load_event("api/webhook_contact_created.json")
    notification = json.loads(template["body"])

    def webhook(number: int) -> dict[str, Any]:
        return signed(template, json.dumps({**notification, "id": f"notif_{number}"}).encode())

    assert http_answer(api, webhook(0))[0] == 200  # cold: reads the instance and unseals its secrets
    calls: list[str] = []

    def made(model: Any, **_: Any) -> None:
        calls.append(f"{model.service_model.service_name}:{model.name}")

    for service in ("sqs", "dynamodb", "kms", "s3"):
        client(service).meta.events.register("before-call", made)
    try:
        answers = [http_answer(api, webhook(number))[0] for number in range(1, 21)]
    finally:
        for service in ("sqs", "dynamodb", "kms", "s3"):
            client(service).meta.events.unregister("before-call", made)
    assert answers == [200] * 20
    assert calls == ["sqs:SendMessage"] * 20
    depth = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "21"  # every job is on the queue
