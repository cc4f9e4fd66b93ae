"""SQS fair queues, which moto lacks, kept by the local stack's moto server.

On AWS a standard queue whose messages carry a MessageGroupId is a fair queue: a tenant (a group) holding
a disproportionate share of the messages in flight is a noisy neighbour, and receives return the other
tenants' messages first; its own come when no quiet tenant's is waiting. The callback queue's jobs carry
their instance as the group (store/queue.py), so one instance's backlog, or its hung receiver, does not
make every other instance's callbacks wait behind it. moto returns messages in the order they were sent,
so without this the local stack would not keep that promise.

What AWS documents (SQS Developer Guide, "How Amazon SQS fair queues work") and this keeps:
- a group is noisy while it holds more than 10 % of the queue's in-flight messages and at least 30 of them
  (the concurrency share);
- once noisy it stays so until its backlog is drained (none of its messages waiting) or it has sent
  nothing for 5 minutes;
- messages without a group are each a tenant of their own, never noisy; FIFO queues are left alone.
Not kept: the second measure, a tenant's share of consumer processing time, which a queue cannot see
from here. Both are approximate on AWS too ("detection may not activate at exactly the described values").
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from moto.core.utils import unix_time_millis
from moto.sqs.models import Message, Queue

NOISY_SHARE = 0.10
NOISY_MIN_IN_FLIGHT = 30
QUIET_AFTER_MS = 5 * 60 * 1000

_visible_messages = Queue.messages  # moto's property: visible, not delayed, in the order sent


def noisy_groups(queue: Any, now_ms: float) -> set[str]:
    """The queue's noisy groups as of now, updating the flags it keeps between receives."""
    in_flight: Counter[str] = Counter()
    waiting: set[str] = set()
    last_sent: dict[str, int] = {}
    for message in queue._messages:
        group = message.group_id
        if group is None:
            continue
        last_sent[group] = max(last_sent.get(group, 0), message.sent_timestamp or 0)
        if not message.visible:
            in_flight[group] += 1
        elif not message.delayed:
            waiting.add(group)
    total = sum(in_flight.values())
    flagged: set[str] = getattr(queue, "_fair_noisy", set())
    flagged |= {
        group
        for group, count in in_flight.items()
        if count >= NOISY_MIN_IN_FLIGHT and count > NOISY_SHARE * total
    }
    flagged = {
        group for group in flagged if group in waiting and now_ms - last_sent.get(group, 0) < QUIET_AFTER_MS
    }
    queue._fair_noisy = flagged
    return flagged


def _fair_messages(queue: Any) -> list[Message]:
    visible: list[Message] = _visible_messages.fget(queue)  # type: ignore[attr-defined]
    if queue.fifo_queue:
        return visible
    noisy = noisy_groups(queue, unix_time_millis())
    if not noisy:
        return visible
    return [m for m in visible if m.group_id not in noisy] + [m for m in visible if m.group_id in noisy]


def install() -> None:
    """Receives from this process's moto follow the fair-queue order (idempotent)."""
    Queue.messages = property(_fair_messages)  # type: ignore[method-assign,assignment]
