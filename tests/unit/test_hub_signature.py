"""Intercom's X-Hub-Signature (SPEC §4, known answer from §10)."""

from __future__ import annotations

import pytest
from intercom_events.intercom.signature import hub_signature, verify_hub_signature

SECRET = "intercom_secret"
BODY = (
    b'{"type":"notification_event","id":"notif_1","topic":"conversation.user.created","app_id":"abc",'
    b'"created_at":1700000000,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"1"}}}'
)
EXPECTED = "sha1=e0d6deaa5785a871c44a56b6c3138ce190b6cc98"


def test_hub_signature_matches_the_known_answer() -> None:
    assert hub_signature(BODY, SECRET) == EXPECTED


def test_the_known_answer_verifies() -> None:
    assert verify_hub_signature(BODY, EXPECTED, SECRET)


def test_upper_case_hex_and_surrounding_whitespace_are_tolerated() -> None:
    assert verify_hub_signature(BODY, "  sha1=" + EXPECTED.removeprefix("sha1=").upper() + "\n", SECRET)


def test_another_secret_fails() -> None:
    assert not verify_hub_signature(BODY, EXPECTED, "other_secret")


def test_a_changed_body_fails() -> None:
    assert not verify_hub_signature(BODY.replace(b'"id":"1"', b'"id":"2"'), EXPECTED, SECRET)


def test_a_reserialised_body_fails() -> None:
    # The HMAC covers the raw bytes; whitespace Intercom did not send breaks it.
    assert not verify_hub_signature(BODY.replace(b",", b", "), EXPECTED, SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "e0d6deaa5785a871c44a56b6c3138ce190b6cc98",  # no algorithm
        "sha256=e0d6deaa5785a871c44a56b6c3138ce190b6cc98",
        "sha1=",
        "sha1=e0d6deaa5785a871c44a56b6c3138ce190b6cc9",  # one digit short
        "sha1=e0d6deaa5785a871c44a56b6c3138ce190b6cc98ff",
        "sha1=z0d6deaa5785a871c44a56b6c3138ce190b6cc98",
        "sha1=e0d6deaa5785a871c44a56b6c3138ce190b6cc98, sha1=00",
        "sha1=é0d6deaa5785a871c44a56b6c3138ce190b6cc9",  # non-ASCII must not reach compare_digest
    ],
)
def test_missing_or_malformed_headers_fail(header: str | None) -> None:
    assert not verify_hub_signature(BODY, header, SECRET)


def test_an_empty_secret_never_verifies() -> None:
    assert not verify_hub_signature(BODY, hub_signature(BODY, ""), "")
