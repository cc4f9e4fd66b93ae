"""The per-instance rate limit (`event.notification.rate.limit`, callbacks a second): when a callback may go.

Each callback has a slot, r a second apart, reserved on the instance's DELIVERY#PACE item (store.pacing).
The records of one SQS batch run side by side in one event loop: those of one rate-limited instance share
ONE reservation, made once every record of the batch has reached its slot or left (`batch_record`), so the
item takes at most one write per batch and instance, and its writes are bounded by the dispatcher's
concurrency, not by the number of callbacks.

A record whose slot is within HOLD_SECONDS is sent at it (it sleeps right before the send; the batch's
records overlap). A later slot is not waited for in the function: the same body goes back on the queue as
a new message, delayed (at most SQS's 900 s) to come back a second or two before its slot, holding the slot
in the `notBefore` attribute, and the record is done.
A new message's receive count starts at 1: its first receive holds its slot (no new reservation; re-sent
again if still early), and deferring spends none of the event's nine tries, which go on from the
`attempt` attribute. A retry (a later receive) reserves a new slot: retries respect the limit too, and so
does a held slot missed by more than one interval (the queue offered it late), which sent at once would
crowd the next. Instances without a limit make no call here.

The receiver sees at most r + 1 callbacks in any closed second when they leave at their slots; one late
by less than 1/r keeps it so. Callbacks of a process that are late all the same (held up: a cold start, a
busy CPU) still leave one interval apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import weakref
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from ..models.events import CallbackJob
from ..observability import MetricUnit, logger, metrics
from ..store import pacing as pace_store
from ..store import queue

# The longest a record waits for its slot in the function: longer would hold a dispatcher that could be
# sending others'. A re-sent job comes back between LEAD_SECONDS and HOLD_SECONDS before its slot: the
# queue may offer it late (its pollers busy), and its claim and log writes come before the send.
HOLD_SECONDS = 2.0
LEAD_SECONDS = 1.0  # HOLD_SECONDS - 1: SQS delays by whole seconds
# The longest the first record of an instance waits for the rest of its batch to reach their slots, when
# one of them is slow to read its job or instance (they normally all arrive within milliseconds).
GATHER_MAX_SECONDS = 0.5


@dataclass(frozen=True)
class Plan:
    """What to do with a slot: sleep `wait` seconds and send, or re-send delayed `defer` seconds."""

    wait: float = 0.0
    defer: int | None = None


def slots(start: float, count: int, rate: float) -> list[float]:
    """The slots of `count` records reserved together from `start`, in the order they joined."""
    return [start + i / rate for i in range(count)]


def plan(slot: float, now: float) -> Plan:
    """Sleep to a slot within HOLD_SECONDS; otherwise re-send with SQS's delay (whole seconds), which
    brings the message back LEAD_SECONDS to HOLD_SECONDS before its slot, to sleep the rest: never early."""
    ahead = slot - now
    if ahead <= HOLD_SECONDS:
        return Plan(wait=max(0.0, ahead))
    return Plan(defer=min(queue.MAX_MESSAGE_DELAY_SECONDS, math.floor(ahead - LEAD_SECONDS)))


def received(receive_count: int, attributes: Mapping[str, str | None]) -> tuple[int, float | None]:
    """A record's attempt number and the slot it already holds (its first receive only: a later receive
    is a retry, which needs a slot of its own), from its receive count and message attributes."""
    attempt = receive_count + max(1, _int(attributes.get(queue.ATTEMPT)) or 1) - 1
    not_before = _float(attributes.get(queue.NOT_BEFORE)) if receive_count == 1 else None
    return attempt, not_before


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _int(text: str | None) -> int | None:
    value = _float(text)
    return int(value) if value is not None else None


@dataclass
class _Batch:
    """The records of one event loop's batch on their way to their slots."""

    on_the_way: int = 0
    all_here: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: dict[int, list[asyncio.Future[float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.all_here.set()

    def join(self) -> None:
        self.on_the_way += 1
        self.all_here.clear()

    def arrive(self) -> None:
        self.on_the_way -= 1
        if self.on_the_way <= 0:
            self.all_here.set()


@dataclass
class _Member:
    batch: _Batch
    here: bool = False

    def arrive(self) -> None:
        if not self.here:
            self.here = True
            self.batch.arrive()


_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = weakref.WeakKeyDictionary()
_member: ContextVar[_Member | None] = ContextVar("pacing_member", default=None)


@contextlib.contextmanager
def batch_record() -> Iterator[None]:
    """Around one record of a batch (the dispatcher's record handler): its instance's reservation waits
    for it while it is on its way to its slot, and no longer once it has left."""
    batch = _batches.setdefault(asyncio.get_running_loop(), _Batch())
    member = _Member(batch)
    batch.join()
    token = _member.set(member)
    try:
        yield
    finally:
        member.arrive()
        _member.reset(token)


def _arrived() -> None:
    member = _member.get()
    if member is not None:
        member.arrive()


@dataclass(frozen=True)
class Slot:
    """A record's turn: `deferred` (re-sent for later: the record is done), or sent at `at` (None: any
    time, the instance has no limit)."""

    at: float | None = None
    deferred: bool = False
    instance_id: int = 0
    interval: float = 0.0  # 1 / rate


async def take_slot(
    job: CallbackJob, message_body: str, rate: float | None, attempt: int, not_before: float | None
) -> Slot:
    """The job's slot: one within HOLD_SECONDS is waited for at the send (`wait`); a later one is
    waited for on the queue, the job re-sent delayed."""
    if rate is None:
        _arrived()
        return Slot()
    if not_before is not None and not_before >= time.time() - 1 / rate:
        _arrived()
        slot = not_before
    else:  # no slot yet, or one missed (the queue offered it late): sent now, it would crowd the next
        slot = await _reserved(job.instanceId, rate)
    decision = plan(slot, time.time())
    if decision.defer is None:
        return Slot(at=slot, instance_id=job.instanceId, interval=1 / rate)
    await asyncio.to_thread(queue.defer, message_body, job.instanceId, decision.defer, slot, attempt)
    metrics.add_metric(name="CallbacksDeferred", unit=MetricUnit.Count, value=1)
    logger.info(
        "callback deferred to its rate-limit slot",
        extra={"instance_id": job.instanceId, "event_id": job.eventId, "slot": slot, "delay": decision.defer},
    )
    return Slot(at=slot, deferred=True)


# When this process last sent a callback of each rate-limited instance.
_last_sent: dict[int, float] = {}


async def wait(slot: Slot) -> None:
    """Sleeps until the slot, right before the callback is sent: the claim and the log writes come first,
    so their time does not make the callback late. When some are late all the same (the process held up:
    a cold start, its CPU busy), those that wake together still go one interval apart, not at once."""
    if slot.at is None:
        return
    await asyncio.sleep(max(0.0, slot.at - time.time()))
    while (gap := _last_sent.get(slot.instance_id, -math.inf) + slot.interval - time.time()) > 0:
        await asyncio.sleep(gap)
    _last_sent[slot.instance_id] = time.time()


async def _reserved(instance_id: int, rate: float) -> float:
    """This record's slot, reserved with those of its instance's other records in the batch."""
    member = _member.get()
    batch = member.batch if member is not None else _Batch()
    mine: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    waiting = batch.waiting.setdefault(instance_id, [])
    waiting.append(mine)
    _arrived()
    if len(waiting) == 1:  # the first reserves for all who join before the batch is here
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(batch.all_here.wait(), GATHER_MAX_SECONDS)
        joined = batch.waiting.pop(instance_id)
        try:
            start = await asyncio.to_thread(pace_store.reserve, instance_id, len(joined), rate, time.time())
        except Exception as exc:
            for future in joined:
                future.set_exception(exc)
        else:
            for future, slot in zip(joined, slots(start, len(joined), rate), strict=True):
                future.set_result(slot)
    return await mine
