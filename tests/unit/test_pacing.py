"""The rate limit's decisions (logic.pacing): slots, sleeping or re-sending, what a received message
holds, and one reservation for a batch's records of an instance."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from intercom_events.logic import pacing
from intercom_events.models.events import CallbackJob

from tests.conftest import callback_job


def test_the_records_reserved_together_get_consecutive_slots_one_interval_apart():
    assert pacing.slots(100.0, 4, 2.0) == [100.0, 100.5, 101.0, 101.5]
    assert pacing.slots(100.0, 2, 0.5) == [100.0, 102.0]


@pytest.mark.parametrize("ahead", [0.0, 0.2, 1.0, pacing.HOLD_SECONDS])
def test_a_slot_within_the_hold_is_slept_to(ahead):
    decision = pacing.plan(1000.0 + ahead, 1000.0)
    assert decision.defer is None
    assert decision.wait == pytest.approx(ahead)


def test_a_slot_already_past_is_sent_at_once():
    assert pacing.plan(999.0, 1000.0) == pacing.Plan(wait=0.0)


@pytest.mark.parametrize("ahead", [2.0000001, 2.5, 7.99, 42.0, 900.7, 901.0])
def test_a_later_slot_is_re_sent_delayed_so_that_it_comes_back_before_the_slot_and_sleeps_the_rest(ahead):
    now = 1000.0
    slot = now + ahead
    decision = pacing.plan(slot, now)
    assert decision.defer is not None
    back = now + decision.defer  # SQS shows a delayed message no sooner than its delay
    assert back <= slot - pacing.LEAD_SECONDS  # never early, and a second to spare for its claim
    assert pacing.plan(slot, back).defer is None  # and then within the hold: slept to, not re-sent


def test_a_slot_beyond_sqs_longest_delay_is_re_sent_again_until_within_reach():
    now, slot = 1000.0, 1000.0 + 2000.4
    delays = []
    while (decision := pacing.plan(slot, now)).defer is not None:
        delays.append(decision.defer)
        now += decision.defer
    assert delays == [900, 900, 199]
    assert decision.wait == pytest.approx(1.4)


def test_a_first_receive_holds_the_slot_of_its_not_before_attribute():
    assert pacing.received(1, {"notBefore": "1764620000.250000"}) == (1, 1764620000.25)


def test_a_later_receive_is_a_retry_that_needs_a_slot_of_its_own():
    assert pacing.received(2, {"notBefore": "1764620000.25"}) == (2, None)


def test_a_deferred_retry_goes_on_from_the_attempt_it_was():
    assert pacing.received(1, {"notBefore": "5", "attempt": "4"}) == (4, 5.0)
    assert pacing.received(3, {"notBefore": "5", "attempt": "4"}) == (6, None)


@pytest.mark.parametrize(
    "attributes", [{}, {"notBefore": None}, {"notBefore": "soon"}, {"notBefore": "nan", "attempt": "-3"}]
)
def test_a_message_without_a_readable_slot_is_an_ordinary_one(attributes):
    assert pacing.received(1, attributes) == (1, None)


def job(instance_id: int, n: int) -> CallbackJob:
    return CallbackJob.model_validate(callback_job(f"n{instance_id}-{n}", instance_id=instance_id))


@pytest.fixture
def reservations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """store.pacing.reserve replaced: each call noted (instance, count), slots from now."""
    calls: list[tuple[int, int]] = []

    def reserve(instance_id: int, count: int, rate: float, now: float) -> float:
        calls.append((instance_id, count))
        return now

    monkeypatch.setattr(pacing.pace_store, "reserve", reserve)
    return calls


async def batch(records: list[tuple[CallbackJob, float | None, float]]) -> list[Any]:
    """Records as the dispatcher runs a batch: side by side, each in batch_record, each reaching its slot
    after `delay` seconds (a slow job or instance read); a rate of None leaves before its slot."""

    async def record(one: CallbackJob, rate: float | None, delay: float) -> Any:
        with pacing.batch_record():
            await asyncio.sleep(delay)
            if rate is None:
                return "left"  # cancelled, queued, a duplicate: never reaches its slot
            started = asyncio.get_running_loop().time()
            slot = await pacing.take_slot(one, "{}", rate, 1, None)
            await pacing.wait(slot)
            return slot.deferred, asyncio.get_running_loop().time() - started

    return await asyncio.gather(*(record(*r) for r in records))


def test_a_batch_makes_one_reservation_per_rate_limited_instance(reservations):
    records = [(job(1, n), 50.0, 0.0) for n in range(6)] + [(job(2, n), 50.0, 0.0) for n in range(3)]
    results = asyncio.run(batch(records))
    assert sorted(reservations) == [(1, 6), (2, 3)]
    assert all(deferred is False for deferred, _ in results)


def test_the_reservation_waits_for_the_records_still_on_their_way_and_not_for_those_that_left(reservations):
    records = [
        (job(1, 0), 50.0, 0.0),
        (job(1, 1), None, 0.0),  # leaves at once
        (job(1, 2), 50.0, 0.05),  # slow to read its instance, but part of the batch
        (job(1, 3), 50.0, 0.1),
    ]
    asyncio.run(batch(records))
    assert reservations == [(1, 3)]


def test_a_straggler_beyond_the_gathering_window_reserves_on_its_own(reservations):
    records = [(job(1, 0), 50.0, 0.0), (job(1, 1), 50.0, pacing.GATHER_MAX_SECONDS + 0.3)]
    asyncio.run(batch(records))
    assert reservations == [(1, 1), (1, 1)]


def test_records_of_an_instance_without_a_limit_make_no_reservation(reservations):
    results = asyncio.run(batch([(job(1, n), None, 0.0) for n in range(3)]))
    assert results == ["left"] * 3
    assert asyncio.run(pacing.take_slot(job(1, 9), "{}", None, 1, None)) == pacing.Slot()
    assert reservations == []


def test_a_held_slot_is_slept_to_without_a_reservation(reservations):
    async def held() -> pacing.Slot:
        slot = await pacing.take_slot(job(1, 0), "{}", 5.0, 1, time.time() + 0.3)
        await pacing.wait(slot)
        return slot

    started = time.time()
    assert asyncio.run(held()).deferred is False
    assert time.time() >= started + 0.3  # not sent before its slot
    assert reservations == []


def test_records_that_wake_late_together_still_go_one_interval_apart():
    late = time.time() - 1.0  # the process was held up past both slots

    async def two() -> list[float]:
        sent: list[float] = []

        async def send(at: float) -> None:
            await pacing.wait(pacing.Slot(at=at, instance_id=77, interval=0.2))
            sent.append(time.time())

        await asyncio.gather(send(late), send(late + 0.2))
        return sent

    first, second = asyncio.run(two())
    assert second - first >= 0.2
