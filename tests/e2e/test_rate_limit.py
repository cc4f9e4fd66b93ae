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

from local.stack import DISPATCHER_CONCURRENCY, LocalStack
from tests.e2e.conftest import SIGNATURE_KEY
from tests.e2e.test_polling_path import delivered
from tests.integration.test_rate_limit import busiest_second

RATE_KEY = "event.notification.rate.limit"


def polling_instance(stack: LocalStack, client: httpx.Client, receiver: Any, rate: float | None) -> int:
    configuration: dict[str, Any] = {
        "authentication.type": "token",
        "intercom.access.token": stack.intercom.issue_token(),
        "event.notification.enabled": True,
        "event.vendor.type": "polling",
        "event.objects": "contacts",
        "event.notification.callback.url": f"{receiver.url}/events",
        "event.notification.signature.key": SIGNATURE_KEY,
    }
    if rate is not None:
        configuration[RATE_KEY] = rate
    answer = client.post(
        "/instances", json={"element": {"key": "intercom"}, "name": "paced", "configuration": configuration}
    )
    assert answer.status_code == 200, answer.text
    time.sleep(1.1)  # what changes from now on is newer than the instance, to Intercom's second
    return int(answer.json()["id"])


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
    instance_id = polling_instance(stack, client, receiver, rate)
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
    assert busiest_second(times) <= rate + 1
    assert max(times) - min(times) >= (30 - rate) / rate
