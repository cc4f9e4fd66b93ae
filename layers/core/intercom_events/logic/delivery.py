"""Delivering one callback job: claim it, sign it, POST it, and decide what a failure means.

Retries ride on SQS: a failed job is hidden for the schedule's delay (ChangeMessageVisibility) and
reported as a batch item failure; its receive count is the attempt number. After the last attempt
the event is failed and the instance's deliveries are suspended (later jobs are kept as queued until
an operator retries them, as Open Connectors does); the message is let go at once and the queue's
redrive policy moves it to the dead-letter queue, whose alarm tells the operator. A 410 turns the
instance's events off.

Every failure of an attempt is on the record, whatever it was: an answer that is not 2xx, no answer
within the deadline, a header or URL the HTTP client refuses, or any other error, including the event
log or the instance failing to be read around the attempt. Each is logged, written to the event as
`lastError` (the exception's type and a reason, never a secret) and retried on the schedule like a 500.
Each try at the callback, whatever came of it, also goes on the event's attempt log in that same write:
when it was sent, how long it took, the status or the error, and the answer's first characters.
When the event log itself cannot be written, the error goes up to the dispatcher, which logs it and
schedules the message's next receive; the log catches up on that receive (the receiver may then get
the callback twice, with the same `webhook-id`).

Timing. Each callback has one deadline for all of it, `CALLBACK_TIMEOUT_SECONDS`, cut shorter when the
invocation has less time left than that plus `LOG_RESERVE_SECONDS` for the event-log writes that follow.
So the batch returns before the function's timeout and reports each record on its own: a timeout would
hand the whole batch back to the queue, the delivered callbacks with it. template.yaml explains how this
fits the function timeout and the queue's visibility timeout.
"""

from __future__ import annotations

import asyncio
import json
import math
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

from ..callbacks.client import CallbackAnswer, failure_reason, post_callback
from ..callbacks.schedule import MAX_ATTEMPTS, next_retry_delay, retry_delay
from ..callbacks.signing import CallbackHeaderError, callback_headers
from ..config import settings
from ..dates import utc_iso
from ..models.events import CallbackJob
from ..models.instance import Instance, InstanceConfig
from ..observability import MetricUnit, logger, metrics
from ..store import bus, deliveries, queue
from ..store import instances as instance_store
from ..ttl_cache import TtlCache
from . import breaker, pacing
from .jobs import EVENTS_PER_CALLBACK

_instances: TtlCache[int, Instance | None] = TtlCache(lambda: settings().instance_cache_seconds)
_states: TtlCache[int, dict[str, Any]] = TtlCache(lambda: settings().instance_cache_seconds)

# Time kept back after a callback's deadline for the event-log writes and the queue call that follow.
LOG_RESERVE_SECONDS = 5
# Below this, a callback is not started: the job goes back to the queue for the next invocation.
MIN_DEADLINE_SECONDS = 1.0
# How much of a failed answer's body goes into its log line, and of any answer into the event's attempt log.
LOGGED_ANSWER_CHARACTERS = 500
# Each KB of an event's record costs a write unit, on the table and again on byTime (projection ALL), at
# every later write: 20 kept attempts of 256 characters hold a much-retried record to a few KB.
KEPT_ANSWER_CHARACTERS = 256


# Threads for the blocking AWS calls of a batch's records (asyncio.to_thread). The loop's default pool has
# min(32, cpus + 4) threads: 6 on a 2-vCPU Lambda, so 4 of a batch of 10 (template.yaml's BatchSize) would
# wait a DynamoDB round trip, or a slow call's retries, before their claim and so before their callback.
# One per record, and the few the breaker's and the rate limit's calls of a record take beside it.
BLOCKING_THREADS = 16
_pooled: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _enough_threads() -> None:
    """Give the running loop a default pool with a thread for each record of a batch, once per loop
    (Lambda keeps one loop per environment; asyncio.run shuts the pool down with its loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _pooled:
        _pooled.add(loop)
        loop.set_default_executor(ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="dispatch"))


class RetryLater(Exception):
    """The job failed this time; SQS should offer it again after `delay` seconds."""

    def __init__(self, delay: int, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True)
class Outcome:
    # delivered | duplicate | cancelled | queued | gone | control (a breaker's message done) | deferred
    # (re-sent to wait for its rate-limit slot)
    status: str
    response_code: int | None = None


@dataclass
class _Breaking:
    """What the circuit breaker needs to hear of an attempt: the instance's configuration once read, and
    the state the probe's lease was taken with when this attempt is the probe (`parked`: an event the
    breaker had parked, sent by the probe timer, which goes back to queued if it fails)."""

    config: InstanceConfig | None = None
    probe: dict[str, Any] | None = None
    parked: bool = False


@dataclass(frozen=True)
class Verdict:
    """What an attempt's answer means for its event; `delay`: seconds until the next attempt."""

    status: Literal["delivered", "gone", "retrying", "failed"]
    delay: int | None = None


def verdict(status: int | None, attempt: int, retry_after: str | None, now: datetime) -> Verdict:
    """A 2xx delivers; a 410 is the receiver gone for good (the instance's events go off); anything else,
    or no answer (`status` None), is retried on the schedule, a 429/503's Retry-After a lower bound,
    until the retries are spent: then the event has failed and the instance's deliveries are suspended."""
    if status is not None and 200 <= status < 300:
        return Verdict("delivered")
    if status == 410:
        return Verdict("gone")
    delay = next_retry_delay(attempt, status, retry_after, now)
    if delay is None or attempt >= MAX_ATTEMPTS:
        return Verdict("failed")
    return Verdict("retrying", delay)


def callback_body(job: CallbackJob, instance: Instance) -> dict[str, Any]:
    """Open Connectors' callback body (SPEC §6); a backfill's callbacks say so in `message.backfill`."""
    body: dict[str, Any] = {
        "severity": "medium",
        "createdDate": job.createdDate,
        "topic": f"instance-{instance.id}-intercom-events",
        "action": "create",
        "id": job.notificationId,
        "user": instance.owner_name,
        "message": {
            "elementKey": "intercom",
            "accountId": 1,
            "companyId": 1,
            "userId": instance.owner_id,
            "eventId": job.eventId,
            "instanceId": instance.id,
            "instance_id": instance.id,
            "instanceName": instance.name,
            "instanceTags": instance.tags,
            "raw": job.raw,
            "events": [event.as_callback_dict() for event in job.events[: EVENTS_PER_CALLBACK[job.source]]],
        },
    }
    if job.backfillId is not None:
        body["message"]["backfill"] = {"id": job.backfillId}
    return body


def _state(instance_id: int) -> dict[str, Any]:
    return _states.get_or_load(instance_id, deliveries.state)


def _remember(instance_id: int, state: dict[str, Any] | None) -> None:
    """The state as a write of this worker answered it (forgotten when not known)."""
    _states.forget(instance_id)
    if state is not None:
        _states.get_or_load(instance_id, lambda _: state)


def _lease_seconds(time_left: Callable[[], float] | None, deadline: float) -> int:
    """How long a claim (or the breaker's probe) keeps others off: as long as the invocation can run,
    or the deadline and the log writes otherwise."""
    return math.ceil(time_left() if time_left is not None else deadline + LOG_RESERVE_SECONDS) + 1


def _deadline(time_left: Callable[[], float] | None) -> float:
    """Seconds this callback may take: the configured deadline, or less when the invocation ends sooner."""
    deadline = settings().callback_timeout_seconds
    if time_left is not None:
        deadline = min(deadline, time_left() - LOG_RESERVE_SECONDS)
    return deadline


def _redacted(excerpt: bytes, secrets: Iterable[str], limit: int = LOGGED_ANSWER_CHARACTERS) -> str:
    """An answer's first characters, without anything we sent that is secret: a receiver may echo the
    request back (its Authorization header, a configured token)."""
    text = excerpt.decode("utf-8", "replace")
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "********")
    return text[:limit]


def _sent_secrets(instance: Instance, headers: dict[str, str]) -> list[str]:
    """What a callback carried that is secret: the instance's keys and headers, and the Authorization
    header built from its basic auth (whole, and its token alone)."""
    config = instance.config
    authorization = headers.get("Authorization", "")
    return [
        config.signature_key or "",
        config.previous_signature_key or "",
        config.basic_password or "",
        *config.callback_headers.values(),
        authorization,
        authorization.removeprefix("Basic "),
    ]


def _attempt(number: int, sent: datetime, answer: CallbackAnswer, secrets: list[str]) -> deliveries.Attempt:
    """The attempt as the event log keeps it: its answer's first characters with our secrets taken out
    (the rest of what the receiver said is its own, and the operator's to read)."""
    body = _redacted(answer.excerpt, secrets, KEPT_ANSWER_CHARACTERS) if answer.excerpt else None
    return deliveries.Attempt(
        number, utc_iso(sent, millis=True), round(answer.elapsed_ms), answer.status, answer.error, body
    )


def _raised_at(exc: BaseException) -> str:
    """Where an exception was raised in this project (module and line: safe to show, unlike its message)."""
    where = "?"
    tb = exc.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if "intercom_events" in path.parts:
            where = f"{path.stem}.py:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _fault(exc: BaseException) -> str:
    """What is recorded for an error around the attempt: its type, and where it was raised when the
    reason would otherwise say no more than "unexpected error"."""
    reason = failure_reason(exc)
    return f"{reason} at {_raised_at(exc)}" if reason.endswith(": unexpected error") else reason


async def deliver_message(
    message_body: str,
    attempt: int,
    time_left: Callable[[], float] | None = None,
    *,
    not_before: float | None = None,
) -> Outcome:
    """One queue message: its job read and delivered. Raises RetryLater for anything short of an outcome,
    so no message waits out the queue's visibility timeout unlogged.

    A message whose job cannot be read (not JSON, not a job) never will be: it is let go at once, and after
    its ninth receive (seconds later) the redrive moves it to the dead-letter queue, whose alarm tells the
    operator. A store failing (S3 for a large job, the event log) is retried on the schedule.
    """
    _enough_threads()
    try:
        control = breaker.control(message_body)
        if control is not None:
            return await _control(*control, attempt, time_left)
        job = await asyncio.to_thread(queue.load, message_body)
    except RetryLater:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # pydantic's errors are ValueErrors
        metrics.add_metric(name="JobsUnreadable", unit=MetricUnit.Count, value=1)
        # The type only: a validation error's text quotes the message.
        logger.error(
            "callback job unreadable: let go to the dead-letter queue", extra={"error": type(exc).__name__}
        )
        raise RetryLater(0, "job unreadable") from exc
    except Exception as exc:
        return _unrecorded(exc, attempt, {})
    try:
        return await deliver(job, message_body, attempt, time_left, not_before=not_before)
    except RetryLater:
        raise
    except Exception as exc:  # the event log could not be written, not even to record the failure
        return _unrecorded(exc, attempt, {"instance_id": job.instanceId, "event_id": job.eventId})


async def _control(
    kind: str, instance_id: int, sweep: bool, attempt: int, time_left: Callable[[], float] | None
) -> Outcome:
    """The circuit breaker's own messages: its timer (probe with the oldest parked event) and the drain
    of the parked events once it closed."""
    now = datetime.now(UTC)
    try:
        if kind == breaker.DRAIN:
            await asyncio.to_thread(breaker.drain, instance_id, now, sweep)
            return Outcome("control")
        deadline = _deadline(time_left)
        if deadline < MIN_DEADLINE_SECONDS:
            raise RetryLater(0, "too little time left in this invocation")
        lease = _lease_seconds(time_left, deadline)
        target = await asyncio.to_thread(breaker.probe_target, instance_id, now, lease)
        if target is None:
            return Outcome("control")
        _, body, taken = target
        job = await asyncio.to_thread(queue.load, body)
    except RetryLater:
        raise
    except Exception as exc:
        return _unrecorded(exc, attempt, {"instance_id": instance_id, "breaker_message": kind})
    try:
        return await deliver(job, body, 1, time_left, _probe=taken)
    except RetryLater:
        raise
    except Exception as exc:
        return _unrecorded(exc, attempt, {"instance_id": job.instanceId, "event_id": job.eventId})


def _unrecorded(exc: Exception, attempt: int, ids: dict[str, Any]) -> NoReturn:
    error = _fault(exc)
    delay = retry_delay(attempt) or 0
    facts = {**ids, "attempt": attempt, "error": error, "retry_in_seconds": delay}
    logger.error("callback attempt failed and could not be recorded; will retry", extra=facts)
    raise RetryLater(delay, error) from exc


async def deliver(
    job: CallbackJob,
    message_body: str,
    attempt: int,
    time_left: Callable[[], float] | None = None,
    _probe: dict[str, Any] | None = None,
    *,
    not_before: float | None = None,
) -> Outcome:
    """`attempt` is SQS's receive count: 1 on the first try, and again 1 when an operator replays it.
    `time_left` gives the seconds left in the invocation, when there is one. `_probe`: the breaker's
    state when the probe timer sends a parked event, its lease taken (the breaker's check is skipped).

    Returns what became of the job, or raises RetryLater (a failed attempt, already on the record).
    """
    # Records of one batch run concurrently, so ids go on each line rather than on the shared logger.
    ids = {
        "instance_id": job.instanceId,
        "event_id": job.eventId,
        "intercom_notification_id": job.intercomNotificationId,
    }
    breaking = _Breaking(probe=_probe, parked=_probe is not None)
    try:
        return await _deliver(job, message_body, attempt, time_left, ids, not_before, breaking=breaking)
    except RetryLater:
        raise
    except Exception as exc:  # around the attempt: the instance or the event log failed to be read
        error = _fault(exc)
        facts = {**ids, "attempt": attempt, "error": error}
        logger.error("callback attempt failed with an error", extra=facts)
        return await _failed(
            job, verdict(None, attempt, None, datetime.now(UTC)), None, error, facts, breaking=breaking
        )


async def _deliver(
    job: CallbackJob,
    message_body: str,
    attempt: int,
    time_left: Callable[[], float] | None,
    ids: dict[str, Any],
    not_before: float | None = None,
    *,
    breaking: _Breaking,
) -> Outcome:
    instance = await asyncio.to_thread(_instances.get_or_load, job.instanceId, instance_store.get)
    now = datetime.now(UTC)
    if instance is None or instance.deleted or instance.disabled or not instance.config.events_enabled:
        await asyncio.to_thread(
            deliveries.record, job, "cancelled", now, None, "events off for this instance"
        )
        logger.info("callback cancelled: events off for this instance", extra=ids)
        return Outcome("cancelled")
    state = await asyncio.to_thread(_state, job.instanceId)
    if state.get("failures") and not state.get("breaker") and not breaking.parked:
        # A run of failures is under way: another worker may have opened the breaker since this one
        # cached the state, and a dial now could hang a whole batch. One read per job, only then.
        state = await asyncio.to_thread(deliveries.state, job.instanceId)
        _remember(job.instanceId, state)
    if state.get("suspended"):
        # Open Connectors' suspension: kept, not attempted, until an operator retries the instance.
        await asyncio.to_thread(
            deliveries.record, job, "queued", now, None, "deliveries suspended", message_body=message_body
        )
        metrics.add_metric(name="EventsQueued", unit=MetricUnit.Count, value=1)
        logger.info("callback queued: deliveries to this instance are suspended", extra=ids)
        return Outcome("queued")
    deadline = _deadline(time_left)
    if deadline < MIN_DEADLINE_SECONDS:
        # Not started, so nothing to record: the next invocation takes it (SQS counts the receive).
        logger.warning("callback not started: too little time left in this invocation", extra=ids)
        raise RetryLater(0, "too little time left in this invocation")
    # The lease keeps a second copy of this job from being sent while this invocation may still be
    # sending it: as long as the invocation can run, or the deadline and the log writes otherwise.
    lease = _lease_seconds(time_left, deadline)
    breaking.config = instance.config
    if not breaking.parked:
        gate, fresh = await asyncio.to_thread(
            breaker.gate, job.instanceId, state, instance.config, now, lease
        )
        if fresh is not None:
            _remember(job.instanceId, fresh)
        if gate == "park":
            # Kept, not attempted, until the breaker's probe answers (logic.breaker).
            await asyncio.to_thread(
                deliveries.record, job, "queued", now, None, breaker.PARKED_REASON, message_body=message_body
            )
            metrics.add_metric(name="EventsParked", unit=MetricUnit.Count, value=1)
            logger.info("callback queued: the instance's circuit breaker is open", extra=ids)
            return Outcome("queued")
        breaking.probe = fresh if gate == "probe" else None
    # The rate limit: this callback's slot, waited for right before the send, or the job re-sent for
    # later. Not for the breaker's probe, one callback a cool-down, whose lease would have to be given back.
    rate = instance.config.rate_limit if breaking.probe is None else None
    slot = await pacing.take_slot(job, message_body, rate, attempt, not_before)
    if slot.deferred:
        return Outcome("deferred")
    # The claim keeps the job on the event too, for an operator's replay: no write of its own.
    claim = await asyncio.to_thread(deliveries.claim, job, message_body, now, lease)
    if claim.outcome != "claimed" and breaking.probe is not None:
        await asyncio.to_thread(breaker.release, job.instanceId)  # not dialled: no verdict to give
    if claim.outcome == "done":
        metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
        logger.info(f"callback already {claim.status}; duplicate skipped", extra=ids)
        return Outcome("duplicate")
    if claim.outcome == "busy":
        raise RetryLater(claim.busy_seconds, "another worker holds this event")

    config = instance.config
    body = json.dumps(callback_body(job, instance), separators=(",", ":")).encode()
    sent = datetime.now(UTC)
    try:
        headers = callback_headers(
            body,
            job.eventId,
            config.signature_key,
            now,
            config.callback_headers,
            config.basic_auth,
            previous_signature_key=config.overlapping_signature_key(now),
        )
    except CallbackHeaderError as exc:  # a configuration the HTTP client cannot send: a failed attempt
        answer = CallbackAnswer(None, failure_reason(exc), None, 0.0)
        headers = {}
    else:
        await pacing.wait(slot)
        deadline = min(deadline, _deadline(time_left))  # less time left after waiting for the slot
        answer = await post_callback(config.callback_url or "", body, headers, deadline)
    code, error = answer.status, answer.error
    attempt_made = _attempt(claim.attempts, sent, answer, _sent_secrets(instance, headers))
    metrics.add_metric(name="DeliveryLatency", unit=MetricUnit.Milliseconds, value=answer.elapsed_ms)
    facts = {**ids, "attempt": attempt, "status": code, "error": error, "ms": round(answer.elapsed_ms)}
    decision = verdict(code, attempt, answer.retry_after, datetime.now(UTC))

    if decision.status == "delivered":
        await asyncio.to_thread(
            deliveries.record, job, "delivered", datetime.now(UTC), code, attempt=attempt_made
        )
        metrics.add_metric(name="DeliveriesSucceeded", unit=MetricUnit.Count, value=1)
        logger.info("callback delivered", extra=facts)
        # A write only when there is a run or a breaker to end: a healthy instance's success costs none.
        if breaking.probe is not None or breaker.shows_trouble(state):
            await _tell_breaker(job, breaking, "delivered", None)
        return Outcome("delivered", code)

    if answer.excerpt:
        facts["answer"] = _redacted(answer.excerpt, [*_sent_secrets(instance, headers), *headers.values()])
    if decision.status == "gone":
        # The receiver says it is gone for good: events off for the instance, as Open Connectors does.
        metrics.add_metric(name="DeliveriesFailed", unit=MetricUnit.Count, value=1)
        await asyncio.to_thread(
            deliveries.record,
            job,
            "failed",
            datetime.now(UTC),
            code,
            "receiver gone (410)",
            attempt=attempt_made,
        )
        await asyncio.to_thread(instance_store.turn_events_off, job.instanceId)
        _instances.forget(job.instanceId)
        logger.warning("callback refused with 410: events turned off for the instance", extra=facts)
        await asyncio.to_thread(
            bus.publish,
            bus.DetailType.EVENTS_TURNED_OFF,
            job.instanceId,
            datetime.now(UTC),
            "receiver gone (410)",
            eventId=job.eventId,
        )
        return Outcome("gone", code)
    return await _failed(job, decision, code, error, facts, attempt_made, breaking)


async def _tell_breaker(
    job: CallbackJob, breaking: _Breaking, outcome: Literal["delivered", "failed"], error: str | None
) -> dict[str, Any] | None:
    """The circuit breaker hears of the attempt; after a failure, the state as it now is (None when not
    known). An error of its own is logged, and the event's record stands."""
    state = None
    try:
        if outcome == "delivered":
            await asyncio.to_thread(breaker.delivered, job.instanceId, datetime.now(UTC))
            _states.forget(job.instanceId)
        else:
            state = await asyncio.to_thread(
                breaker.failed,
                job.instanceId,
                job.eventId,
                breaking.config,
                datetime.now(UTC),
                breaking.probe,
                error or "failed",
            )
            _remember(job.instanceId, state)
    except Exception as exc:
        facts = {"instance_id": job.instanceId, "event_id": job.eventId, "error": _fault(exc)}
        logger.error("circuit breaker not updated", extra=facts)
    return state


async def _failed(
    job: CallbackJob,
    decision: Verdict,
    code: int | None,
    error: str | None,
    facts: dict[str, Any],
    attempt: deliveries.Attempt | None = None,
    breaking: _Breaking | None = None,
) -> Outcome:
    """A failed attempt: on the record, and retried on the schedule, or failed for good (and the
    instance's deliveries suspended) once the retries are spent. `attempt`: the try at the callback,
    when the callback was tried (not for an error around the attempt: it is in `lastError` only).
    A parked event that failed as the breaker's probe is queued again instead (its only outcome)."""
    metrics.add_metric(name="DeliveriesFailed", unit=MetricUnit.Count, value=1)
    now = datetime.now(UTC)
    breaking = breaking or _Breaking()
    if breaking.parked:
        await asyncio.to_thread(deliveries.record, job, "queued", now, code, error, attempt=attempt)
        await _tell_breaker(job, breaking, "failed", error)
        logger.warning("circuit breaker probe failed; the event stays queued", extra=facts)
        return Outcome("queued", code)
    if decision.status != "retrying":
        await asyncio.to_thread(deliveries.record, job, "failed", now, code, error, attempt=attempt)
        await _tell_breaker(job, breaking, "failed", error)
        suspended = await asyncio.to_thread(deliveries.suspend, job.instanceId, job.eventId, now)
        _states.forget(job.instanceId)
        metrics.add_metric(name="DeliveriesSuspended", unit=MetricUnit.Count, value=1)
        logger.error("callback failed: retries spent; deliveries to the instance suspended", extra=facts)
        if suspended:  # once per suspension, however many events spend their last try together
            await asyncio.to_thread(
                bus.publish,
                bus.DetailType.SUSPENDED,
                job.instanceId,
                now,
                f"retries spent: {error or 'failed'}",
                eventId=job.eventId,
            )
        raise RetryLater(0, "retries spent")  # redrive also moves it to the dead-letter queue (its alarm)
    delay = decision.delay or 0
    state = await _tell_breaker(job, breaking, "failed", error)
    if attempt is not None and state is not None and breaker.is_open(state, now):
        # The breaker is open (this failure opened it, or it was): the event waits with the parked
        # ones and goes again when the breaker closes, not hours later on its retry schedule. A tried
        # event's job was kept at its first claim.
        await asyncio.to_thread(deliveries.record, job, "queued", now, code, error, attempt=attempt)
        metrics.add_metric(name="EventsParked", unit=MetricUnit.Count, value=1)
        logger.warning("callback failed; the instance's circuit breaker is open: queued", extra=facts)
        return Outcome("queued", code)
    await asyncio.to_thread(deliveries.record, job, "retrying", now, code, error, attempt=attempt)
    logger.warning("callback failed; will retry", extra={**facts, "retry_in_seconds": delay})
    raise RetryLater(delay, error or "failed")
