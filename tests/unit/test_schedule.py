"""The callback retry schedule and Retry-After (SPEC §6)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from intercom_events.callbacks.schedule import (
    MAX_ATTEMPTS,
    MAX_DELAY_SECONDS,
    honour_retry_after,
    retry_delay,
)

# After failed attempt n: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
STEPS = [(1, 0), (2, 5), (3, 300), (4, 1800), (5, 7200), (6, 18000), (7, 36000), (8, 36000)]
NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def test_nine_attempts_in_all() -> None:
    assert MAX_ATTEMPTS == 9


@pytest.mark.parametrize(("attempt", "base"), STEPS)
def test_each_step_stays_within_twenty_percent(attempt: int, base: int) -> None:
    rng = random.Random(1234)
    delays = [retry_delay(attempt, rng) for _ in range(500)]
    assert all(d is not None and round(base * 0.8) <= d <= round(base * 1.2) for d in delays)


@pytest.mark.parametrize(("attempt", "base"), STEPS[2:])
def test_each_step_is_jittered(attempt: int, base: int) -> None:
    rng = random.Random(1234)
    delays = {retry_delay(attempt, rng) for _ in range(50)}
    assert len(delays) > 1


def test_the_first_retry_is_at_once() -> None:
    assert retry_delay(1, random.Random(7)) == 0


def test_delays_are_whole_seconds() -> None:
    assert all(isinstance(retry_delay(a, random.Random(a)), int) for a, _ in STEPS)


def test_same_seed_same_delays() -> None:
    assert [retry_delay(a, random.Random(9)) for a, _ in STEPS] == [
        retry_delay(a, random.Random(9)) for a, _ in STEPS
    ]


def test_no_delay_fits_past_sqs_visibility_limit() -> None:
    assert max(retry_delay(8, random.Random(s)) or 0 for s in range(500)) <= MAX_DELAY_SECONDS == 43200


def test_retries_are_spent_after_nine_attempts() -> None:
    assert retry_delay(MAX_ATTEMPTS) is None
    assert retry_delay(MAX_ATTEMPTS + 3) is None


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError):
        retry_delay(0)


def test_retry_after_seconds() -> None:
    assert honour_retry_after("120", 3, NOW) == 120


def test_retry_after_seconds_with_whitespace() -> None:
    assert honour_retry_after(" 4 ", 2, NOW) == 4


def test_retry_after_http_date() -> None:
    header = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert honour_retry_after(header, 3, NOW) == 90


def test_retry_after_date_in_the_past_means_now() -> None:
    header = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert honour_retry_after(header, 3, NOW) == 0


def test_retry_after_is_capped_by_the_schedule_step_plus_twenty_percent() -> None:
    assert honour_retry_after("3600", 3, NOW) == 360  # 5 min + 20 %
    assert honour_retry_after("99999", 5, NOW) == 8640  # 2 h + 20 %


def test_retry_after_after_the_at_once_retry_is_capped_by_the_next_step() -> None:
    assert honour_retry_after("3", 1, NOW) == 3
    assert honour_retry_after("60", 1, NOW) == 6


def test_retry_after_never_exceeds_sqs_visibility_limit() -> None:
    assert honour_retry_after("86400", 8, NOW) == 43200
    assert honour_retry_after("9" * 5000, 8, NOW) == 43200


@pytest.mark.parametrize("header", [None, "", "  ", "soon", "-5", "1.5", "Wed, 99 Foo 2026", "١٢"])
def test_unusable_retry_after_is_none(header: str | None) -> None:
    assert honour_retry_after(header, 3, NOW) is None


def test_retry_after_once_retries_are_spent_is_none() -> None:
    assert honour_retry_after("10", MAX_ATTEMPTS, NOW) is None
