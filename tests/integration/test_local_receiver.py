"""The callback receiver records requests and answers with scripted statuses."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from local.receiver import CallbackReceiver, Reply


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as server:
        yield server


def test_every_request_is_recorded_with_its_raw_body_and_headers(receiver: CallbackReceiver) -> None:
    body = b'{"b": 1,  "a": "\xc3\xa9"}'
    httpx.post(
        f"{receiver.url}/hooks/intercom?x=1",
        content=body,
        headers={"Content-Type": "application/json", "Elements-Webhook-Signature": "sha256=abc"},
    )

    [request] = receiver.wait_for(1, timeout=5)
    assert request.method == "POST"
    assert request.path == "/hooks/intercom"
    assert request.query == "x=1"
    assert request.body == body
    assert request.header("elements-webhook-signature") == "sha256=abc"
    assert request.json() == {"b": 1, "a": "é"}
    assert request.received_at <= time.time()


def test_scripted_statuses_are_answered_in_order_then_200(receiver: CallbackReceiver) -> None:
    receiver.respond_with([500, 500, 200, 410])

    statuses = [httpx.post(receiver.url, content=b"{}").status_code for _ in range(6)]

    assert statuses == [500, 500, 200, 410, 200, 200]
    assert len(receiver.requests) == 6


def test_retry_after_is_sent_with_scripted_statuses(receiver: CallbackReceiver) -> None:
    receiver.respond_with([429, Reply(503, retry_after="Wed, 21 Oct 2026 07:28:00 GMT")], retry_after=7)

    first = httpx.post(receiver.url)
    second = httpx.post(receiver.url)

    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert (second.status_code, second.headers["retry-after"]) == (503, "Wed, 21 Oct 2026 07:28:00 GMT")


def test_a_delay_makes_a_caller_time_out(receiver: CallbackReceiver) -> None:
    receiver.respond_with([200], delay=1.0)

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(receiver.url, timeout=0.2)
    assert len(receiver.wait_for(1, timeout=1)) == 1


def test_the_default_answer_can_change(receiver: CallbackReceiver) -> None:
    receiver.respond_always(500)

    assert httpx.get(receiver.url).status_code == 500


def test_wait_for_says_how_many_arrived_when_it_times_out(receiver: CallbackReceiver) -> None:
    httpx.post(receiver.url)

    with pytest.raises(TimeoutError, match="1 request"):
        receiver.wait_for(2, timeout=0.2)


def test_wait_for_returns_as_soon_as_requests_arrive(receiver: CallbackReceiver) -> None:
    started = time.monotonic()
    httpx.post(receiver.url)

    receiver.wait_for(1, timeout=5)

    assert time.monotonic() - started < 2


def test_clear_forgets_recorded_requests(receiver: CallbackReceiver) -> None:
    httpx.post(receiver.url)
    receiver.wait_for(1)

    receiver.clear()

    assert receiver.requests == []


def test_a_verifying_receiver_checks_each_callback_as_it_arrives_and_refuses_a_forged_one() -> None:
    from datetime import UTC, datetime

    from intercom_events.callbacks.signing import callback_headers

    body = b'{"message": {"eventId": "e1"}}'
    signed = callback_headers(body, "e1", "receiver-key", datetime.now(UTC))
    forged = callback_headers(body, "e1", "another-key", datetime.now(UTC))
    with CallbackReceiver(signature_key="receiver-key") as verifying:
        answers = [httpx.post(f"{verifying.url}/cb", content=body, headers=h) for h in (signed, forged)]
        requests = verifying.wait_for(2, timeout=5)

    assert [answer.status_code for answer in answers] == [200, 401]
    assert [request.verified for request in requests] == [True, False]
