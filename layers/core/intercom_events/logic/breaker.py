"""The per-instance circuit breaker: a receiver that keeps failing stops costing a dispatcher per event.

closed     callbacks are sent; each failed attempt (any event of the instance) adds to a run, and a
           delivered one ends it. `event.notification.breaker.failures` in a row open the breaker.
open       no callback is sent: each job is kept as `queued` ("circuit breaker open") for the cool-down,
           `event.notification.breaker.cooldown.seconds` at first, doubled by each failed probe up to
           an hour. A control message on the callback queue is the timer (no new job may come).
half-open  the cool-down is over: one event, holding a lease, probes the receiver (the next job, or the
           oldest parked event when the timer fires). Delivered: the breaker closes and the parked events
           are sent again, oldest first. Failed: it opens again for the next cool-down.
giving up  a probe failing when the breaker opened longer ago than an event's nine tries take suspends
           the instance's deliveries as a spent event does; an operator's retry-all lifts both.

The decisions are here; store.breaker holds the state on the instance's DELIVERY#STATE item, and
logic.delivery calls in when a job comes (`gate`), when an attempt fails (`failed`) and when one is
delivered (`delivered`). Everything here is blocking: the dispatcher runs it in a thread.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Literal

from dateutil.parser import isoparse

from ..callbacks.schedule import RETRY_DELAYS
from ..dates import utc_iso
from ..models.instance import BREAKER_COOLDOWN_MAX, InstanceConfig
from ..observability import MetricUnit, logger, metrics
from ..store import breaker as store
from ..store import bus, deliveries, queue

PARKED_REASON = "circuit breaker open"
# A breaker open for longer than an event's tries take gives up as the schedule would: suspended.
GIVE_UP_SECONDS = sum(RETRY_DELAYS)
# Parked events sent again per drain step; a `breakerDrain` message goes on with the rest.
DRAIN_BATCH = 200
# A worker whose cached state still said "open" may park a job just after the drain: a last sweep
# this much later (well past the state cache's seconds) sends those too.
SWEEP_DELAY_SECONDS = 30
PROBE = "breakerProbe"
DRAIN = "breakerDrain"

Gate = Literal["dial", "park", "probe"]


# ---- pure decisions ------------------------------------------------------------------------------------


def cooldown_seconds(first: int, openings: int) -> int:
    """The cool-down after the `openings`-th opening in a row: the first one, doubled by each failed
    probe, never more than BREAKER_COOLDOWN_MAX."""
    doublings = min(max(openings - 1, 0), 16)  # 2**16 times any first cool-down is past the cap
    return int(min(first * 2**doublings, BREAKER_COOLDOWN_MAX))


def is_open(state: dict[str, Any], now: datetime) -> bool:
    """Open and cooling down: a job is parked without a try."""
    return bool(state.get("breaker")) and now.timestamp() < float(state.get("openUntil") or 0)


def shows_trouble(state: dict[str, Any]) -> bool:
    """Something a delivered callback ends: a run of failures, or a breaker."""
    return bool(state.get("failures") or state.get("breaker"))


def gives_up(state: dict[str, Any], now: datetime) -> bool:
    opened = state.get("openedDate")
    return opened is not None and (now - isoparse(opened)).total_seconds() > GIVE_UP_SECONDS


def control(body: str) -> tuple[str, int, bool] | None:
    """A control message's kind, instance and sweep flag; None for a callback job. Our own messages
    begin with their kind, which no job's body does, so a job is not parsed twice."""
    if not body.startswith(('{"' + PROBE + '"', '{"' + DRAIN + '"')):
        return None
    parsed = json.loads(body)
    [(kind, facts)] = parsed.items()
    return kind, int(facts["instanceId"]), bool(facts.get("sweep"))


def public_status(state: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The instance answer's `deliveryStatus`; None while everything is normal. An open breaker whose
    cool-down is over shows as half-open: the next job probes."""
    if not (shows_trouble(state) or state.get("suspended")):
        return None
    breaker = state.get("breaker") or "closed"
    if breaker == "open" and not is_open(state, now):
        breaker = "half-open"
    until = state.get("openUntil")
    return {
        "breaker": breaker,
        "consecutiveFailures": state.get("failures"),
        "openUntil": utc_iso(float(until), millis=True) if until is not None else None,
        "openedDate": state.get("openedDate"),
        "openings": state.get("openings"),
        "suspended": state.get("suspended"),
        "suspendedDate": state.get("suspendedDate"),
    }


# ---- the dispatcher's calls ----------------------------------------------------------------------------


def gate(
    instance_id: int, state: dict[str, Any], config: InstanceConfig, now: datetime, lease_seconds: int
) -> tuple[Gate, dict[str, Any] | None]:
    """What to do with a job given the (cached) state: dial it, park it, or dial it as the probe. The
    second value is the state when this call read or changed it (for the cache)."""
    if not state.get("breaker") or config.breaker_failures == 0:
        return "dial", None
    if is_open(state, now) or float(state.get("probeUntil") or 0) > now.timestamp():
        return "park", None  # cooling down, or another worker's probe is out: no write to try for it
    taken = store.take_probe(instance_id, now, now + timedelta(seconds=lease_seconds))
    if taken is not None:
        logger.info("circuit breaker half-open: this callback probes", extra={"instance_id": instance_id})
        return "probe", taken
    fresh = deliveries.state(instance_id)  # another probe holds it, or the cache was stale
    return ("park" if fresh.get("breaker") else "dial"), fresh


def release(instance_id: int) -> None:
    """The probe was not dialled after all (its event already done or busy): the lease goes back."""
    store.release_probe(instance_id)


def failed(
    instance_id: int,
    event_id: str,
    config: InstanceConfig | None,
    now: datetime,
    probe: dict[str, Any] | None,
    reason: str,
) -> dict[str, Any] | None:
    """A failed attempt: the run grows and may open the breaker, or a failed probe opens it again (or
    gives up). `probe`: the state the probe's lease was taken with. The state as it now is, if known."""
    if config is None or config.breaker_failures == 0:
        return None
    if probe is not None:
        return _probe_failed(instance_id, event_id, config, now, probe, reason)
    state = store.record_failure(instance_id, now)
    if int(state.get("failures") or 0) < config.breaker_failures or state.get("breaker"):
        return state
    cooldown = cooldown_seconds(config.breaker_cooldown_seconds, 1)
    opened = store.open_breaker(instance_id, now, now + timedelta(seconds=cooldown))
    if opened is None:  # another worker opened it, and tells
        return deliveries.state(instance_id)
    facts = {"instance_id": instance_id, "failures": state["failures"], "cooldown_seconds": cooldown}
    metrics.add_metric(name="BreakerOpened", unit=MetricUnit.Count, value=1)
    logger.warning("circuit breaker opened", extra=facts)
    bus.publish(
        bus.DetailType.BREAKER_OPENED,
        instance_id,
        now,
        f"{state['failures']} failed attempts in a row: {reason}",
        failures=state["failures"],
        openUntil=utc_iso(now + timedelta(seconds=cooldown), millis=True),
    )
    send_probe(instance_id, cooldown)
    return opened


def _probe_failed(
    instance_id: int,
    event_id: str,
    config: InstanceConfig,
    now: datetime,
    probe: dict[str, Any],
    reason: str,
) -> dict[str, Any] | None:
    facts: dict[str, Any] = {"instance_id": instance_id, "event_id": event_id, "error": reason}
    if gives_up(probe, now):
        suspended = deliveries.suspend(instance_id, event_id, now)
        metrics.add_metric(name="DeliveriesSuspended", unit=MetricUnit.Count, value=1)
        logger.error(
            "circuit breaker probe failed past the retry schedule: deliveries suspended", extra=facts
        )
        if suspended:
            bus.publish(
                bus.DetailType.SUSPENDED,
                instance_id,
                now,
                f"circuit breaker open for longer than the retry schedule: {reason}",
                eventId=event_id,
            )
        return None
    openings = int(probe.get("openings") or 1) + 1
    cooldown = cooldown_seconds(config.breaker_cooldown_seconds, openings)
    state = store.reopen(instance_id, openings, now + timedelta(seconds=cooldown))
    logger.warning(
        "circuit breaker probe failed", extra={**facts, "openings": openings, "cooldown_seconds": cooldown}
    )
    if state is not None:
        send_probe(instance_id, cooldown)
    return state


def delivered(instance_id: int, now: datetime) -> None:
    """A delivered callback when the state showed trouble: the run ends, and a breaker closes. Only the
    worker whose write closed it tells, and sends the parked events again."""
    old = store.close(instance_id)
    if not old or not old.get("breaker"):
        return
    metrics.add_metric(name="BreakerClosed", unit=MetricUnit.Count, value=1)
    logger.info("circuit breaker closed", extra={"instance_id": instance_id, "openings": old.get("openings")})
    bus.publish(
        bus.DetailType.BREAKER_CLOSED,
        instance_id,
        now,
        "the receiver answered a probe",
        openedDate=old.get("openedDate"),
        openings=old.get("openings"),
    )
    drain(instance_id, now, sweep=False)


def send_probe(instance_id: int, delay_seconds: float) -> None:
    queue.send_control({PROBE: {"instanceId": instance_id}}, instance_id, math.ceil(delay_seconds))


def probe_target(
    instance_id: int, now: datetime, lease_seconds: int
) -> tuple[str, str, dict[str, Any]] | None:
    """The timer fired: when the cool-down is over and this worker takes the probe's lease, the oldest
    parked event (its id and kept job) and the state with the lease; None when there is nothing to do
    now (the breaker closed, the lease another's, the cool-down not over: then the timer is set again).
    With no parked event the lease is given back, and the next job to come probes."""
    state = deliveries.state(instance_id)
    if not state.get("breaker") or state.get("suspended"):
        return None
    remaining = float(state.get("openUntil") or 0) - now.timestamp()
    if remaining > 0:
        send_probe(instance_id, remaining)
        return None
    taken = store.take_probe(instance_id, now, now + timedelta(seconds=lease_seconds))
    if taken is None:
        return None
    for event_id in deliveries.parked(instance_id):
        body = deliveries.kept_job(instance_id, event_id)
        if body is not None:
            return event_id, body, taken
    store.release_probe(instance_id)
    logger.info(
        "circuit breaker half-open: no parked event to probe with", extra={"instance_id": instance_id}
    )
    return None


def drain(instance_id: int, now: datetime, sweep: bool) -> int:
    """One step of sending the parked events again once the breaker closed: up to DRAIN_BATCH, oldest
    first; a `breakerDrain` message goes on with the rest, and the last step sets a sweep for the
    events parked late. Nothing moves while a breaker is open again or deliveries are suspended."""
    state = deliveries.state(instance_id)
    if state.get("breaker") or state.get("suspended"):
        return 0
    ids = list(islice(deliveries.parked(instance_id), DRAIN_BATCH))
    sent = requeue(instance_id, ids, now)
    if len(ids) == DRAIN_BATCH and sent:
        queue.send_control({DRAIN: {"instanceId": instance_id}}, instance_id)
    elif sent or not sweep:
        queue.send_control(
            {DRAIN: {"instanceId": instance_id, "sweep": True}}, instance_id, SWEEP_DELAY_SECONDS
        )
    logger.info(
        "parked events sent again", extra={"instance_id": instance_id, "events": sent, "sweep": sweep}
    )
    return sent


def requeue(instance_id: int, event_ids: list[str], now: datetime) -> int:
    """Each event's kept job on the queue again, in the order given, its status pending (shared with an
    operator's retry-all); an event whose job expired with the log is skipped. How many were sent."""
    bodies = []
    for event_id in event_ids:
        body = deliveries.kept_job(instance_id, event_id)
        if body is None:
            continue
        deliveries.record_status(instance_id, event_id, "pending", now)
        bodies.append(body)
    if bodies:
        queue.send_bodies(bodies, instance_id)
    return len(bodies)
