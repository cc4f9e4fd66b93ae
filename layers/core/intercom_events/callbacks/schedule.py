"""When a failed callback is tried again (SPEC §6).

At once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each jittered by ±20 % so the retries
of many events failing together (a receiver outage) do not arrive together when it comes back.

A 429 or 503 may carry `Retry-After`: it is a lower bound, never a shortcut. The next try comes at the
later of the schedule's step and Retry-After, so a receiver answering `Retry-After: 1` cannot spend the
nine tries in seconds; and Retry-After is capped at the schedule's longest step, so one cannot park an
event for longer than the schedule itself would.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Seconds to wait after failed attempt n (1-based) before attempt n + 1.
RETRY_DELAYS: tuple[int, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # the first try plus one per delay
JITTER = 0.2
# The longest an SQS message can be hidden (ChangeMessageVisibility): a longer delay cannot be scheduled.
MAX_DELAY_SECONDS = 12 * 3600
# The answers whose Retry-After is honoured (SPEC §6); any other status's header is ignored.
RETRY_AFTER_STATUSES = frozenset({429, 503})
# The most a Retry-After can ask for: the schedule's longest step.
MAX_RETRY_AFTER_SECONDS = max(RETRY_DELAYS)

_rng = random.Random()  # jitter only; nothing secret depends on it


def _base_delay(attempt: int) -> int | None:
    if attempt < 1:
        raise ValueError(f"attempts are numbered from 1, got {attempt}")
    return RETRY_DELAYS[attempt - 1] if attempt <= len(RETRY_DELAYS) else None


def retry_delay(attempt: int, rng: random.Random | None = None) -> int | None:
    """Whole seconds to wait after failed attempt `attempt` (1-based); None once retries are spent."""
    base = _base_delay(attempt)
    if base is None:
        return None
    jittered = round(base * (rng or _rng).uniform(1 - JITTER, 1 + JITTER))
    return min(jittered, MAX_DELAY_SECONDS)


def retry_after_seconds(header: str | None, now: datetime) -> int | None:
    """The wait a `Retry-After` header asks for, in whole seconds, capped at the longest step.

    Both forms of RFC 9110 §10.2.3: delta-seconds and an HTTP-date (a date already past asks for 0).
    None when the header is absent or unusable.
    """
    if header is None or not (value := header.strip()):
        return None
    if value.isascii() and value.isdigit():  # delta-seconds: 1*DIGIT
        # Any number this long is past the cap; skipping int() also sidesteps its 4300-digit limit.
        wanted = int(value) if len(value) <= 9 else MAX_RETRY_AFTER_SECONDS
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        # HTTP-dates are GMT; "-0000" parses as naive.
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        wanted = max(0, math.ceil((when - now).total_seconds()))
    return min(wanted, MAX_RETRY_AFTER_SECONDS)


def next_retry_delay(
    attempt: int,
    status: int | None,
    retry_after: str | None,
    now: datetime,
    rng: random.Random | None = None,
) -> int | None:
    """Whole seconds to wait after failed attempt `attempt`, given the receiver's answer (`status` None
    when there was none); None once retries are spent.

    The schedule's jittered step, or a 429/503's Retry-After when that is later; never past what SQS can
    schedule.
    """
    delay = retry_delay(attempt, rng)
    if delay is None or status not in RETRY_AFTER_STATUSES:
        return delay
    wanted = retry_after_seconds(retry_after, now)
    return min(max(delay, wanted or 0), MAX_DELAY_SECONDS)
