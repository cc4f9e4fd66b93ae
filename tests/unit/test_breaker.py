"""The circuit breaker's pure decisions (logic.breaker): the cool-down, the messages, the answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from intercom_events.logic import breaker
from intercom_events.models.instance import BREAKER_COOLDOWN_MAX

from tests.conftest import callback_job

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_each_failed_probe_doubles_the_cool_down_up_to_the_cap():
    assert [breaker.cooldown_seconds(60, n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert breaker.cooldown_seconds(60, 7) == BREAKER_COOLDOWN_MAX
    assert breaker.cooldown_seconds(1, 10_000) == BREAKER_COOLDOWN_MAX  # no overflow, however long


def test_the_control_messages_are_told_from_jobs():
    assert breaker.control('{"breakerProbe":{"instanceId":7}}') == ("breakerProbe", 7, False)
    assert breaker.control('{"breakerDrain":{"instanceId":7,"sweep":true}}') == ("breakerDrain", 7, True)
    job = callback_job("notif_x")
    job["raw"]["breakerProbe"] = {"instanceId": 7}  # a job quoting one is still a job
    assert breaker.control(json.dumps(job)) is None


def test_the_answer_leaves_out_a_normal_state_and_shows_an_elapsed_cool_down_as_half_open():
    assert breaker.public_status({}, NOW) is None
    assert breaker.public_status({"pk": "INSTANCE#1", "sk": "DELIVERY#STATE"}, NOW) is None
    assert breaker.public_status({"failures": 2}, NOW) == {"breaker": "closed", "consecutiveFailures": 2} | {
        "openUntil": None,
        "openedDate": None,
        "openings": None,
        "suspended": None,
        "suspendedDate": None,
    }
    state = {"breaker": "open", "openUntil": (NOW + timedelta(seconds=5)).timestamp(), "openings": 1}
    shown = breaker.public_status(state, NOW)
    assert (
        shown is not None and shown["breaker"] == "open" and shown["openUntil"] == "2026-11-27T10:00:05.000Z"
    )
    later = breaker.public_status(state, NOW + timedelta(seconds=5))
    assert later is not None and later["breaker"] == "half-open"


def test_it_gives_up_once_open_longer_than_the_retry_schedule():
    opened = NOW - timedelta(seconds=breaker.GIVE_UP_SECONDS)
    assert not breaker.gives_up({"openedDate": opened.isoformat()}, NOW)
    assert breaker.gives_up({"openedDate": opened.isoformat()}, NOW + timedelta(seconds=1))
    assert not breaker.gives_up({}, NOW)
