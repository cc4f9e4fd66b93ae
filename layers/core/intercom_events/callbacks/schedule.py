"""When a failed callback is tried again (SPEC §6).

At once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each jittered by ±20 % so the retries
of many events failing together (a receiver outage) do not arrive together when it comes back.
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
# Cap for a Retry-After that follows the "at once" retry: its own bound would be 0 and overrule the
# receiver entirely, so it gets the next step's bound instead (5 s + 20 %).
_MIN_RETRY_AFTER_CAP = math.ceil(RETRY_DELAYS[1] * (1 + JITTER))

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


def honour_retry_after(header: str | None, attempt: int, now: datetime) -> int | None:
    """The wait a 429/503's `Retry-After` asks for after failed attempt `attempt`, in whole seconds.

    Capped by the schedule's (un-jittered) delay for that attempt plus 20 %, so a receiver cannot stretch
    the retries beyond the schedule, and by SQS's 12-hour visibility limit. None when the header is
    absent or unparseable, or the retries are spent: the caller then falls back to `retry_delay`.
    """
    base = _base_delay(attempt)
    if base is None or header is None or not (value := header.strip()):
        return None
    if value.isascii() and value.isdigit():  # delta-seconds: 1*DIGIT (RFC 9110 §10.2.3)
        # Any number this long is past every cap; skipping int() also sidesteps its 4300-digit limit.
        wanted = int(value) if len(value) <= 9 else MAX_DELAY_SECONDS
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        # HTTP-dates are GMT; "-0000" parses as naive. A date already past means "now".
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        wanted = max(0, math.ceil((when - now).total_seconds()))
    cap = max(math.ceil(base * (1 + JITTER)), _MIN_RETRY_AFTER_CAP)
    return min(wanted, cap, MAX_DELAY_SECONDS)
