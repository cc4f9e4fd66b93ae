"""The per-instance rate limit over the local stack: the poller's callbacks go through several dispatcher
batches side by side (one per execution environment, as Lambda runs them), which share the limit through
the instance's PACE item; slots later than a second wait on the queue as delayed messages.

The window check: slots are 1/r apart, so a closed second holds at most r + 1 of them. A callback sent
late by less than 1/r still keeps it so (the window then takes slots from an interval shorter than
1 + 1/r). The local stack runs five dispatcher processes, the poller, the API and the embedded AWS on a
laptop's cores, where a process held up sends a callback a tenth or two of a second past its slot: at two
a second that stays within r + 1; at twenty it would not (in process, tests/integration holds 20 + 1).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from benchmarks.bench_rate import busiest_second, paced_instance
from local.stack import DISPATCHER_CONCURRENCY, LocalStack
from tests.e2e.conftest import SIGNATURE_KEY
from tests.e2e.test_polling_path import delivered


def poll_until(
    stack: LocalStack, client: httpx.Client, receiver: Any, instance_id: int, callbacks: int
) -> None:
    """Polls now through the API; waits until `callbacks` arrived (and a second more, for any extra)."""
    assert client.post(f"/instances/{instance_id}/poll").status_code == 202
    deadline = time.monotonic() + 120
    while len(receiver.requests) < callbacks and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    assert len(receiver.requests) == callbacks, f"{len(receiver.requests)} of {callbacks} callbacks"


def test_batches_side_by_side_share_the_limit(stack, client, receiver):
    """Two a second; 300 changes make 30 callbacks in two pages of jobs, which the dispatcher's
    environments take in several batches at once."""
    assert DISPATCHER_CONCURRENCY > 1
    rate = 2
    instance_id = paced_instance(stack, client, receiver.url, rate, SIGNATURE_KEY)
    workspace = stack.intercom.workspace
    made = workspace.seed("contacts", 300, start=int(time.time()) - 86400, spacing=0)
    changed = workspace.bulk_update("contacts", [c["id"] for c in made], name="imported")

    poll_until(stack, client, receiver, instance_id, 30)

    expected = Counter(
        ("contacts", c["id"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["updated_at"])))
        for c in changed
    )
    assert Counter((e["objectType"], e["objectId"], e["date"]) for e in delivered(receiver)) == expected
    times = [r.received_at for r in receiver.requests]
    print(f"busiest second {busiest_second(times)} callbacks; span {max(times) - min(times):.1f} s")
    # Slots are 1/rate apart and none is sent early, but through five processes and one embedded AWS a
    # callback can leave late, next to the following slot's: second by second the limit is not a promise
    # here (README, "Rate limit"). Over four seconds, at most one late pair beyond the limit's share.
    assert busiest_second(times, window=4.0) <= 4 * rate + 2
    # Thirty slots 1/rate apart span 14.5 s. Arrivals never come before their slot, but the first can
    # come late (0.7 s was seen on a busy machine); each process pacing on its own would take a fifth of
    # it. Half the span keeps the two apart.
    assert max(times) - min(times) >= (30 - 1) / rate / 2
