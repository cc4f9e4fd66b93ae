"""Signature key rotation (issue #12): a new `event.notification.signature.key` keeps the key it replaces
for `event.notification.signature.key.overlap.hours` (24 by default), during which `webhook-signature`
carries both keys' signatures and `Elements-Webhook-Signature` the new key's; after it, the new key's only.

The clock is moved through the one place that holds it: the time the overlap ends, stored with the
instance (`event.notification.signature.key.previous.until`), put in the past through the store.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from intercom_events.dates import utc_iso
from intercom_events.models.instance import PREVIOUS_SIGNATURE_KEY, PREVIOUS_SIGNATURE_KEY_UNTIL
from intercom_events.store import instances as store
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import http_answer, invoke, load_event

OLD_KEY = "sample-signature-key"  # the sample create event's
NEW_KEY = "rotated-signature-key-7d1e"
NEWER_KEY = "rotated-again-signature-key-3b9f"
OVERLAP_KEY = "event.notification.signature.key.overlap.hours"


def patch_configuration(api, configuration: dict[str, Any]) -> tuple[int, Any]:
    event = copy.deepcopy(load_event("api/patch_instance.json"))
    event["body"] = json.dumps({"configuration": configuration})
    return http_answer(api, event)


@pytest.fixture
def instance(api, receiver) -> None:
    """Instance 1 of the sample events, signed with OLD_KEY, its callbacks sent to the loopback receiver."""
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200
    status, body = patch_configuration(api, {"event.notification.callback.url": f"{receiver.url}/callbacks"})
    assert status == 200, body


def rotate(api, key: str, **configuration: Any) -> None:
    status, body = patch_configuration(api, {"event.notification.signature.key": key, **configuration})
    assert status == 200, body


def callback(dispatcher, receiver) -> Any:
    """One new event delivered by the dispatcher, as the receiver got it."""
    receiver.clear()
    batch = load_event("dispatcher/batch.json")
    record = batch["Records"][0]
    record["body"] = json.dumps({**json.loads(record["body"]), "eventId": str(uuid.uuid4())})
    assert invoke(dispatcher, batch, "dispatcher") == {"batchItemFailures": []}
    [request] = receiver.wait_for(1)
    return request


def standard_webhooks_accepts(request: Any, key: str) -> bool:
    """What a receiver configured with `key` alone decides, through the standardwebhooks package."""
    secret = "whsec_" + base64.b64encode(key.encode()).decode()
    try:
        Webhook(secret).verify(request.body, dict(request.headers))
    except WebhookVerificationError:
        return False
    return True


def elements_signature(request: Any, key: str) -> str:
    digest = hmac.new(key.encode(), request.body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def end_overlap_now() -> None:
    """The clock moved past the overlap: the stored end of the overlap put a second in the past."""
    stored = store.get(1)
    assert stored is not None and PREVIOUS_SIGNATURE_KEY in stored.configuration
    past = utc_iso(datetime.now(UTC) - timedelta(seconds=1))
    configuration = {**stored.configuration, PREVIOUS_SIGNATURE_KEY_UNTIL: past}
    store.save(stored.model_copy(update={"configuration": configuration}))


def raw_items(aws) -> str:
    return json.dumps(aws.client("dynamodb").scan(TableName=aws.table_name)["Items"], default=str)


def test_before_any_rotation_only_the_key_itself_signs(dispatcher, instance, receiver):
    request = callback(dispatcher, receiver)

    assert standard_webhooks_accepts(request, OLD_KEY)
    assert not standard_webhooks_accepts(request, NEW_KEY)
    assert " " not in request.header("webhook-signature")


def test_during_the_overlap_a_receiver_with_either_key_alone_accepts_the_callback(
    api, dispatcher, instance, receiver
):
    rotate(api, NEW_KEY)

    request = callback(dispatcher, receiver)

    assert standard_webhooks_accepts(request, OLD_KEY)
    assert standard_webhooks_accepts(request, NEW_KEY)
    assert len(request.header("webhook-signature").split(" ")) == 2


def test_during_the_overlap_the_open_connectors_signature_is_the_new_keys(
    api, dispatcher, instance, receiver
):
    rotate(api, NEW_KEY)

    request = callback(dispatcher, receiver)

    assert request.header("elements-webhook-signature") == elements_signature(request, NEW_KEY)


def test_after_the_overlap_only_the_new_key_verifies(api, dispatcher, instance, receiver):
    rotate(api, NEW_KEY)
    end_overlap_now()

    request = callback(dispatcher, receiver)

    assert standard_webhooks_accepts(request, NEW_KEY)
    assert not standard_webhooks_accepts(request, OLD_KEY)
    assert request.header("elements-webhook-signature") == elements_signature(request, NEW_KEY)


def test_the_overlap_lasts_24_hours_by_default(api, instance):
    before = datetime.now(UTC).replace(microsecond=0)
    rotate(api, NEW_KEY)

    stored = store.get(1)
    assert stored is not None and stored.configuration[PREVIOUS_SIGNATURE_KEY] == OLD_KEY
    until = datetime.fromisoformat(stored.configuration[PREVIOUS_SIGNATURE_KEY_UNTIL])
    assert before + timedelta(hours=24) <= until <= datetime.now(UTC) + timedelta(hours=24)


def test_the_overlap_follows_its_configuration_key_under_any_spelling(api, instance):
    before = datetime.now(UTC).replace(microsecond=0)
    rotate(api, NEW_KEY, eventNotificationSignatureKeyOverlapHours="2")

    stored = store.get(1)
    assert stored is not None and stored.configuration[OVERLAP_KEY] == 2
    until = datetime.fromisoformat(stored.configuration[PREVIOUS_SIGNATURE_KEY_UNTIL])
    assert before + timedelta(hours=2) <= until <= datetime.now(UTC) + timedelta(hours=2)


def test_an_overlap_of_0_sends_no_old_signature(api, dispatcher, instance, receiver):
    rotate(api, NEW_KEY, **{OVERLAP_KEY: 0})

    request = callback(dispatcher, receiver)

    assert standard_webhooks_accepts(request, NEW_KEY)
    assert not standard_webhooks_accepts(request, OLD_KEY)
    assert PREVIOUS_SIGNATURE_KEY not in store.get(1).configuration  # type: ignore[union-attr]


def test_setting_the_overlap_to_0_during_one_ends_it(api, dispatcher, instance, receiver):
    rotate(api, NEW_KEY)
    assert patch_configuration(api, {OVERLAP_KEY: "0"})[0] == 200

    request = callback(dispatcher, receiver)

    assert not standard_webhooks_accepts(request, OLD_KEY)
    assert standard_webhooks_accepts(request, NEW_KEY)


def test_a_change_of_other_keys_during_the_overlap_keeps_it(api, dispatcher, instance, receiver):
    rotate(api, NEW_KEY)
    assert patch_configuration(api, {"event.objects": "contacts"})[0] == 200

    request = callback(dispatcher, receiver)

    assert standard_webhooks_accepts(request, OLD_KEY) and standard_webhooks_accepts(request, NEW_KEY)


def test_setting_the_same_key_again_starts_no_overlap(api, dispatcher, instance, receiver):
    rotate(api, OLD_KEY)

    assert PREVIOUS_SIGNATURE_KEY not in store.get(1).configuration  # type: ignore[union-attr]
    assert " " not in callback(dispatcher, receiver).header("webhook-signature")


def test_a_second_rotation_during_the_overlap_keeps_only_the_key_it_replaces(
    api, dispatcher, instance, receiver
):
    rotate(api, NEW_KEY)
    rotate(api, NEWER_KEY)

    request = callback(dispatcher, receiver)

    assert standard_webhooks_accepts(request, NEWER_KEY)
    assert standard_webhooks_accepts(request, NEW_KEY)
    assert not standard_webhooks_accepts(request, OLD_KEY)
    assert request.header("elements-webhook-signature") == elements_signature(request, NEWER_KEY)


def test_removing_the_key_ends_the_overlap_and_signing(api, dispatcher, instance, receiver):
    rotate(api, NEW_KEY)
    rotate(api, "")

    request = callback(dispatcher, receiver)

    assert request.header("webhook-signature") is None
    assert request.header("elements-webhook-signature") is None
    assert PREVIOUS_SIGNATURE_KEY not in store.get(1).configuration  # type: ignore[union-attr]


def test_the_old_key_is_never_answered_logged_or_stored_unsealed(
    api, aws, dispatcher, instance, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    rotate(api, NEW_KEY)
    callback(dispatcher, receiver)

    get = copy.deepcopy(load_event("api/patch_instance.json"))
    get["requestContext"]["http"]["method"] = "GET"
    get.pop("body")
    status, answer = http_answer(api, get)
    assert status == 200
    assert answer["configuration"]["event.notification.signature.key"] == "********"
    assert not {PREVIOUS_SIGNATURE_KEY, PREVIOUS_SIGNATURE_KEY_UNTIL} & set(answer["configuration"])
    logged = "\n".join(json.dumps(vars(record), default=str) for record in caplog.records)
    items = raw_items(aws)
    for secret in (OLD_KEY, NEW_KEY):
        assert secret not in json.dumps(answer)
        assert secret not in logged
        assert secret not in items
    assert "signature key overlap started" in logged  # the logs were captured, and say when it ends
    assert store.get(1).configuration[PREVIOUS_SIGNATURE_KEY] == OLD_KEY  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "spelling",
    [
        PREVIOUS_SIGNATURE_KEY,
        "event_notification_signature_key_previous",
        "previousSignatureKey",
        PREVIOUS_SIGNATURE_KEY_UNTIL,
        "EVENT.NOTIFICATION.SIGNATURE.KEY.PREVIOUS.UNTIL",
    ],
)
def test_a_client_cannot_set_the_previous_key_or_its_end(api, instance, spelling):
    value = utc_iso(datetime.now(UTC) + timedelta(days=30)) if "until" in spelling.lower() else "planted-key"

    status, answer = patch_configuration(api, {spelling: value})

    assert status == 400, answer
    assert "planted-key" not in json.dumps(answer)
    configuration = store.get(1).configuration  # type: ignore[union-attr]
    assert not {PREVIOUS_SIGNATURE_KEY, PREVIOUS_SIGNATURE_KEY_UNTIL} & set(configuration)


@pytest.mark.parametrize("hours", [-1, 1.5, 169, "a day"])
def test_an_overlap_that_is_not_0_to_168_whole_hours_is_400(api, instance, hours):
    status, answer = patch_configuration(
        api, {"event.notification.signature.key": NEW_KEY, OVERLAP_KEY: hours}
    )

    assert status == 400, answer
    assert [error["field"] for error in answer["errors"]] == [f"configuration.{OVERLAP_KEY}"]
    assert store.get(1).configuration["event.notification.signature.key"] == OLD_KEY  # type: ignore[union-attr]


def test_a_rotation_whose_two_keys_do_not_fit_the_sealed_secrets_is_400_and_keeps_the_old_key(api, instance):
    assert patch_configuration(api, {"event.notification.basic.password": "p" * 2500})[0] == 200
    rotate(api, "a" * 800, **{OVERLAP_KEY: 0})  # alone, it fits

    status, answer = patch_configuration(
        api, {"event.notification.signature.key": "b" * 800, OVERLAP_KEY: 24}
    )

    assert status == 400, answer
    assert answer["errors"][0]["field"] == "configuration"
    assert "a" * 100 not in json.dumps(answer) and "b" * 100 not in json.dumps(answer)
    assert store.get(1).configuration["event.notification.signature.key"] == "a" * 800  # type: ignore[union-attr]
