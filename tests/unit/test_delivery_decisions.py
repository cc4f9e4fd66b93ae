"""What an attempt's answer means for its event (logic.delivery.verdict), and what each verdict does with
the event log, the instance store and the receiver as in-memory fakes: no AWS, no network."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from intercom_events.callbacks.client import CallbackAnswer
from intercom_events.callbacks.schedule import JITTER, MAX_ATTEMPTS, MAX_RETRY_AFTER_SECONDS, RETRY_DELAYS
from intercom_events.logic import delivery
from intercom_events.logic.delivery import Verdict, verdict
from intercom_events.logic.jobs import make_jobs
from intercom_events.models.events import CallbackJob, NormalizedEvent
from intercom_events.models.instance import Instance
from intercom_events.store.deliveries import Claim

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def within_jitter(delay: int | None, attempt: int) -> bool:
    step = RETRY_DELAYS[attempt - 1]
    return delay is not None and step * (1 - JITTER) - 1 <= delay <= step * (1 + JITTER) + 1


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_delivers(status):
    assert verdict(status, 1, None, NOW) == Verdict("delivered")


def test_a_2xx_delivers_even_on_the_last_attempt():
    assert verdict(200, MAX_ATTEMPTS, None, NOW) == Verdict("delivered")


def test_a_410_means_the_receiver_is_gone_on_any_attempt():
    assert verdict(410, 1, None, NOW) == verdict(410, MAX_ATTEMPTS, None, NOW) == Verdict("gone")


@pytest.mark.parametrize("status", [None, 300, 400, 404, 429, 500, 502, 503])
def test_anything_else_or_no_answer_is_retried_on_the_schedule(status):
    for attempt in (1, 2, 5):
        decision = verdict(status, attempt, None, NOW)
        assert decision.status == "retrying" and within_jitter(decision.delay, attempt)


@pytest.mark.parametrize("status", [429, 503])
def test_a_429_or_503_waits_at_least_its_retry_after_in_seconds_or_as_a_date(status):
    assert verdict(status, 2, "600", NOW) == Verdict("retrying", 600)
    when = format_datetime(NOW + timedelta(seconds=900), usegmt=True)
    assert verdict(status, 2, when, NOW) == Verdict("retrying", 900)


def test_retry_after_never_shortens_the_schedule_nor_parks_an_event_past_its_longest_step():
    assert within_jitter(verdict(429, 3, "1", NOW).delay, 3)  # 5 minutes, not 1 second
    assert verdict(503, 2, "99999999", NOW) == Verdict("retrying", MAX_RETRY_AFTER_SECONDS)


def test_retry_after_on_another_status_is_ignored():
    assert within_jitter(verdict(500, 2, "3600", NOW).delay, 2)


@pytest.mark.parametrize("status", [None, 500, 429])
def test_once_the_retries_are_spent_the_event_fails_and_the_instance_is_suspended(status):
    assert verdict(status, MAX_ATTEMPTS - 1, None, NOW).status == "retrying"
    assert verdict(status, MAX_ATTEMPTS, "5", NOW) == Verdict("failed")


# ---- what each verdict does, with the event log, the instance store and the receiver as in-memory fakes ----


class Fakes:
    def __init__(self, answer: CallbackAnswer) -> None:
        self.answer = answer
        self.instance = Instance(
            id=1,
            owner_id=1,
            owner_name="developer",
            name="Polling",
            tags=[],
            configuration={
                "authentication.type": "token",
                "intercom.access.token": "sample-access-token",
                "event.notification.enabled": True,
                "event.vendor.type": "polling",
                "event.notification.callback.url": "https://app.example.com/intercom-events",
                "event.notification.signature.key": "sample-signature-key",
            },
            created_date="2026-11-27T10:00:00Z",
        )
        self.log: list[tuple[Any, ...]] = []  # the event log's writes, in order

    async def post(self, url: str, body: bytes, headers: dict[str, str], deadline: float) -> CallbackAnswer:
        self.log.append(("POST", url))
        return self.answer


def job() -> CallbackJob:
    event = NormalizedEvent(
        date="2026-11-27T10:00:00Z", eventType="UPDATED", objectId="7", objectType="contacts"
    )
    [made] = make_jobs(1, "polling", "contacts:test", {"contacts": [{"id": "7"}]}, [event], NOW)
    return made


@pytest.fixture
def receiver(base_env: None, monkeypatch: pytest.MonkeyPatch) -> Callable[[CallbackAnswer], Fakes]:
    def answering(answer: CallbackAnswer) -> Fakes:
        fakes = Fakes(answer)
        monkeypatch.setattr(delivery, "post_callback", fakes.post)
        monkeypatch.setattr(delivery.instance_store, "get", lambda _: fakes.instance)
        monkeypatch.setattr(
            delivery.instance_store, "turn_events_off", lambda i: fakes.log.append(("events off", i))
        )
        monkeypatch.setattr(delivery.deliveries, "state", lambda _: {})
        monkeypatch.setattr(delivery.deliveries, "claim", lambda *a: Claim("claimed", attempts=1))
        monkeypatch.setattr(
            delivery.deliveries,
            "record",
            lambda j, status, now, code=None, error=None, attempt=None, **_: fakes.log.append((status, code)),
        )
        monkeypatch.setattr(
            delivery.deliveries, "suspend", lambda i, e, now: fakes.log.append(("suspended", i))
        )
        return fakes

    return answering


def deliver(attempt: int) -> delivery.Outcome:
    made = job()
    return asyncio.run(delivery.deliver(made, made.model_dump_json(), attempt))


def test_a_2xx_is_recorded_delivered(receiver):
    fakes = receiver(CallbackAnswer(204, None, None, 12.0))
    assert deliver(1) == delivery.Outcome("delivered", 204)
    assert fakes.log == [("POST", "https://app.example.com/intercom-events"), ("delivered", 204)]


def test_a_410_fails_the_event_and_turns_the_instances_events_off(receiver):
    fakes = receiver(CallbackAnswer(410, "receiver answered 410", None, 12.0))
    assert deliver(1) == delivery.Outcome("gone", 410)
    assert fakes.log[1:] == [("failed", 410), ("events off", 1)]


def test_a_failed_attempt_is_recorded_retrying_and_offered_again_after_its_delay(receiver):
    fakes = receiver(CallbackAnswer(429, "receiver answered 429", "600", 12.0))
    with pytest.raises(delivery.RetryLater) as retry:
        deliver(2)
    assert retry.value.delay == 600
    assert fakes.log[1:] == [("retrying", 429)]


def test_the_last_attempt_failing_fails_the_event_and_suspends_the_instances_deliveries(receiver):
    fakes = receiver(CallbackAnswer(500, "receiver answered 500", None, 12.0))
    with pytest.raises(delivery.RetryLater) as retry:
        deliver(MAX_ATTEMPTS)
    assert retry.value.delay == 0  # let go at once: the redrive moves it to the dead-letter queue
    assert fakes.log[1:] == [("failed", 500), ("suspended", 1)]
