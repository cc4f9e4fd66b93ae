"""Callback signatures and headers (SPEC §6, known answers from §10)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from intercom_events.callbacks.signing import (
    CallbackHeaderError,
    callback_headers,
    elements_signature,
    standard_webhooks_secret,
)
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

KEY = "MySecretEventSignatureKey"
BODY = b'{"message":{"eventId":"evt-1","events":[{"objectType":"contacts","objectId":"42"}]},"topic":"t"}'


def test_elements_signature_matches_open_connectors_documented_example() -> None:
    assert (
        elements_signature(b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>", KEY)
        == "sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ="
    )


def test_standard_webhooks_official_vector() -> None:
    # Its secret's key bytes are not UTF-8 text, so it checks the package callback_headers signs with.
    signature = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", datetime.fromtimestamp(1614265330, UTC), '{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_webhooks_secret_is_the_base64_of_the_key() -> None:
    secret = standard_webhooks_secret(KEY)
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == KEY.encode()


def test_a_standard_webhooks_receiver_verifies_the_callback() -> None:
    headers = callback_headers(BODY, "evt-1", KEY, datetime.now(UTC))
    payload = Webhook(standard_webhooks_secret(KEY)).verify(BODY, headers)
    assert payload["message"]["eventId"] == "evt-1"


def test_a_standard_webhooks_receiver_verifies_a_non_utc_timestamp() -> None:
    paris = timezone(timedelta(hours=2))
    headers = callback_headers(BODY, "evt-1", KEY, datetime.now(paris))
    Webhook(standard_webhooks_secret(KEY)).verify(BODY, headers)


def test_a_standard_webhooks_receiver_rejects_a_changed_body() -> None:
    headers = callback_headers(BODY, "evt-1", KEY, datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks_secret(KEY)).verify(BODY.replace(b"42", b"43"), headers)


def test_an_open_connectors_receiver_verifies_the_callback() -> None:
    headers = callback_headers(BODY, "evt-1", KEY, datetime.now(UTC))
    expected = base64.b64encode(hmac.new(KEY.encode(), BODY, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["Elements-Webhook-Signature"], "sha256=" + expected)


def test_id_timestamp_and_content_type_are_always_sent() -> None:
    headers = callback_headers(BODY, "evt-1", None, datetime(2026, 11, 27, 10, 0, 1, 900000, tzinfo=UTC))
    assert headers == {
        "Content-Type": "application/json",
        "webhook-id": "evt-1",
        "webhook-timestamp": "1795773601",
    }


@pytest.mark.parametrize("key", [None, ""])
def test_no_signature_headers_without_a_key(key: str | None) -> None:
    headers = callback_headers(BODY, "evt-1", key, datetime.now(UTC))
    assert "webhook-signature" not in headers
    assert "Elements-Webhook-Signature" not in headers


def test_extra_headers_are_added() -> None:
    headers = callback_headers(BODY, "evt-1", KEY, datetime.now(UTC), extra_headers={"X-Tenant": "acme"})
    assert headers["X-Tenant"] == "acme"


def test_extra_headers_cannot_replace_signature_id_or_content_type() -> None:
    extra = {
        "elements-webhook-signature": "sha256=forged",
        "WEBHOOK-SIGNATURE": "v1,forged",
        "Webhook-Id": "other",
        "webhook-timestamp": "0",
        "content-type": "text/plain",
        "Content-Length": "1",
    }
    headers = callback_headers(BODY, "evt-1", KEY, datetime.now(UTC), extra_headers=extra)
    assert {name.lower() for name in headers} == {
        "content-type",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "elements-webhook-signature",
    }
    assert headers["webhook-id"] == "evt-1"
    assert headers["Content-Type"] == "application/json"
    Webhook(standard_webhooks_secret(KEY)).verify(BODY, headers)


def test_basic_auth_header() -> None:
    headers = callback_headers(BODY, "evt-1", None, datetime.now(UTC), basic_auth=("receiver", "pä:ss"))
    assert headers["Authorization"] == "Basic " + base64.b64encode("receiver:pä:ss".encode()).decode()


def test_basic_auth_wins_over_an_extra_authorization_header() -> None:
    headers = callback_headers(
        BODY,
        "evt-1",
        None,
        datetime.now(UTC),
        extra_headers={"authorization": "Bearer x"},
        basic_auth=("u", "p"),
    )
    assert [name for name in headers if name.lower() == "authorization"] == ["Authorization"]
    assert headers["Authorization"].startswith("Basic ")


def test_an_extra_authorization_header_is_kept_without_basic_auth() -> None:
    headers = callback_headers(
        BODY, "evt-1", None, datetime.now(UTC), extra_headers={"Authorization": "Bearer x"}
    )
    assert headers["Authorization"] == "Bearer x"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Token", "tok-secret-1\r\nX-Injected: yes"),  # header injection
        ("X-Token", "tok-secret-1é"),  # not ASCII: the HTTP client cannot send it
        ("X-Token", "tok-secret-1\x00"),
        ("X Token", "tok-secret-1"),  # not a header name
        ("X-Tök", "tok-secret-1"),
        ("", "tok-secret-1"),
    ],
)
def test_a_header_the_http_client_cannot_send_is_refused_without_quoting_its_value(
    name: str, value: str
) -> None:
    with pytest.raises(CallbackHeaderError) as caught:
        callback_headers(BODY, "evt-1", KEY, datetime.now(UTC), extra_headers={name: value})
    assert "tok-secret-1" not in str(caught.value)


def test_surrounding_whitespace_of_a_header_value_is_not_sent() -> None:
    headers = callback_headers(
        BODY, "evt-1", KEY, datetime.now(UTC), extra_headers={"X-Tenant": "  acme co\t"}
    )
    assert headers["X-Tenant"] == "acme co"


# ---- key rotation: during the overlap the header carries both keys' signatures ------------------------

NEW_KEY = "rotated-signature-key-2"


def test_during_an_overlap_a_receiver_with_either_key_verifies_the_callback() -> None:
    headers = callback_headers(BODY, "evt-1", NEW_KEY, datetime.now(UTC), previous_signature_key=KEY)

    for key in (NEW_KEY, KEY):
        assert Webhook(standard_webhooks_secret(key)).verify(BODY, headers)["message"]["eventId"] == "evt-1"
    new, old = headers["webhook-signature"].split(" ")
    assert new.startswith("v1,") and old.startswith("v1,")


def test_during_an_overlap_the_open_connectors_signature_is_the_new_keys() -> None:
    headers = callback_headers(BODY, "evt-1", NEW_KEY, datetime.now(UTC), previous_signature_key=KEY)
    assert headers["Elements-Webhook-Signature"] == elements_signature(BODY, NEW_KEY)


def test_without_a_previous_key_a_receiver_with_the_old_key_is_refused() -> None:
    headers = callback_headers(BODY, "evt-1", NEW_KEY, datetime.now(UTC))

    assert " " not in headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks_secret(KEY)).verify(BODY, headers)


def test_a_previous_key_alone_signs_nothing() -> None:
    headers = callback_headers(BODY, "evt-1", None, datetime.now(UTC), previous_signature_key=KEY)
    assert "webhook-signature" not in headers and "Elements-Webhook-Signature" not in headers
