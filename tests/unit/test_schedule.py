"""The callback retry schedule and Retry-After (SPEC §6)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from intercom_events.callbacks.schedule import (
    MAX_ATTEMPTS,
    MAX_DELAY_SECONDS,
    next_retry_delay,
    retry_after_seconds,
    retry_delay,
)

# After failed attempt n: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
STEPS = [(1, 0), (2, 5), (3, 300), (4, 1800), (5, 7200), (6, 18000), (7, 36000), (8, 36000)]
NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


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


def test_no_delay_fits_past_sqs_visibility_limit() -> None:
    assert max(retry_delay(8, random.Random(s)) or 0 for s in range(500)) <= MAX_DELAY_SECONDS == 43200


def test_retries_are_spent_after_nine_attempts() -> None:
    assert retry_delay(MAX_ATTEMPTS) is None
    assert retry_delay(MAX_ATTEMPTS + 3) is None


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError):
        retry_delay(0)


def test_eight_retries_then_none() -> None:
    assert [retry_delay(a) is not None for a in range(1, 12)] == [True] * 8 + [False] * 3


# ---- Retry-After: a lower bound on 429 and 503 only -------------------------------------------------------


def delays(attempt: int, status: int | None, header: str | None) -> set[int | None]:
    return {next_retry_delay(attempt, status, header, NOW, random.Random(seed)) for seed in range(200)}


def within_step(attempt: int) -> set[int | None]:
    return {retry_delay(attempt, random.Random(seed)) for seed in range(200)}


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(("attempt", "base"), STEPS)
def test_a_short_retry_after_never_shortens_the_step(status: int, attempt: int, base: int) -> None:
    for seed in range(200):
        step = retry_delay(attempt, random.Random(seed))
        assert step is not None
        assert next_retry_delay(attempt, status, "1", NOW, random.Random(seed)) == max(step, 1)


@pytest.mark.parametrize("status", [429, 503])
def test_a_longer_retry_after_is_waited_out(status: int) -> None:
    assert delays(2, status, "120") == {120}  # the step is 5 s
    assert delays(1, status, "3") == {3}  # the step is "at once"


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_date_is_waited_out(status: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert delays(2, status, header) == {90}


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    "header",
    [
        format_datetime(NOW - timedelta(hours=1), usegmt=True),  # a date already past
        "soon",
        "-5",
        "1.5",
        "Wed, 99 Foo 2026",
        "١٢",
        "",
        None,
    ],
)
def test_a_past_or_unusable_retry_after_leaves_the_step(status: int, header: str | None) -> None:
    assert delays(3, status, header) == within_step(3)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    "header", ["86400", "9" * 5000, format_datetime(NOW + timedelta(days=400), usegmt=True)]
)
def test_a_huge_retry_after_waits_the_longest_step_at_most(status: int, header: str) -> None:
    assert delays(1, status, header) == {10 * 3600}
    assert max(d or 0 for d in delays(8, status, header)) <= MAX_DELAY_SECONDS


@pytest.mark.parametrize("status", [None, 200, 400, 404, 408, 425, 500, 502, 504])
def test_other_answers_ignore_retry_after(status: int | None) -> None:
    assert delays(2, status, "600") == within_step(2)


@pytest.mark.parametrize("status", [429, 503, 500])
def test_retry_after_does_not_extend_spent_retries(status: int) -> None:
    assert next_retry_delay(MAX_ATTEMPTS, status, "10", NOW) is None


def test_retry_after_seconds_reads_both_forms() -> None:
    assert retry_after_seconds(" 4 ", NOW) == 4
    assert retry_after_seconds(format_datetime(NOW + timedelta(seconds=30), usegmt=True), NOW) == 30
    assert retry_after_seconds("Fri, 27 Nov 2026 10:01:00 -0000", NOW) == 60  # naive form: GMT
