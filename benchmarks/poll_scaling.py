"""The poller's scaling: what a poll costs as the workspace grows, and how fast a big poll moves.

Run: `.venv/bin/python -m benchmarks.poll_scaling [--quick]` (moto in-process, the simulated Intercom on
loopback, the poller's logic called as its handler calls it).
- Requests to Intercom and DynamoDB calls (by name, counted with botocore's event hooks) for one poll
  finding 50 new contacts, in a workspace of 1,000 contacts and in one of 100,000: the poller reads
  newest-first and stops at its window's start, so the two should be equal.
- Events a second through the polls of 10,000 contacts changed at one instant (benchmarks/poll_volume.py's
  run, checked: each version sent exactly once), against a floor reading the same pages from the
  simulated Intercom with nothing sent or recorded. Figures only; nothing here is a test.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from benchmarks.figures import Figure, emit
from benchmarks.poll_volume import ROOT, load, measure, mock_aws

CHANGES = 50
SMALL, LARGE = 1_000, 100_000
SEED_SPACING_SECONDS = 60  # the seeded contacts end days before the window: none of them is a change


@dataclass
class PollCost:
    requests: int  # to Intercom
    calls: Counter[str]  # AWS calls, "service:Operation"
    sent: int  # events enqueued
    ms: float  # the poll, end to end

    def dynamodb(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self.calls.items()) if k.startswith("dynamodb:")}


_counting: Counter[str] | None = None


def _count_aws() -> None:
    """Every AWS call of the clients made from now on, into `_counting` while it is set (botocore's
    event hooks on the process's one Session, which its clients copy)."""
    from intercom_events.store import aws

    def hook(model: Any, **_: Any) -> None:
        if _counting is not None:
            _counting[f"{model.service_model.service_name}:{model.name}"] += 1

    aws.new_client("sts")  # makes the Session
    aws._session.events.register("provide-client-params.*.*", hook)


def _poll_cost(contacts: int) -> PollCost:
    """One poll finding CHANGES new contacts among `contacts` (the instance is made after the seeded
    contacts, so only the new ones are changes)."""
    global _counting
    from intercom_events.config import settings
    from intercom_events.logic import polling

    from local.aws import create_resources
    from local.intercom import SimulatedIntercom
    from local.lambda_runtime import LocalFunction
    from local.stack import clear_project_caches

    with mock_aws():
        clear_project_caches()  # new clients, with the counting hook
        resources = create_resources(None)  # type: ignore[arg-type]
        for name, value in resources.environment().items():
            if name != "AWS_ENDPOINT_URL":
                os.environ[name] = value
        intercom = SimulatedIntercom().start()
        try:
            os.environ["INTERCOM_API_BASE_URL"] = intercom.url
            settings.cache_clear()
            token = intercom.issue_token()
            newest = int(time.time()) - 3 * 86400
            intercom.workspace.seed(
                "contacts",
                contacts,
                start=newest - contacts * SEED_SPACING_SECONDS,
                spacing=SEED_SPACING_SECONDS,
            )
            api = LocalFunction("api", load("api").lambda_handler, timeout_seconds=30)
            create = json.loads((ROOT / "events/api/create_instance_polling.json").read_text())
            body = json.loads(create["body"])
            body["configuration"] |= {"event.objects": "contacts", "intercom.access.token": token}
            create["body"] = json.dumps(body)
            instance_id = json.loads(api.invoke(create)["body"])["id"]
            time.sleep(1.1)  # the changes land after the instance's creation second
            for i in range(CHANGES):
                intercom.workspace.create("contacts", email=f"new{i}@example.com")
            before = len(intercom.requests)
            _counting = Counter()
            started = time.perf_counter()
            report = polling.poll(instance_id, time_left=lambda: 300.0, owner="bench")
            ms = (time.perf_counter() - started) * 1000
            cost = PollCost(len(intercom.requests) - before, _counting, report.events.get("contacts", 0), ms)
            _counting = None
        finally:
            intercom.stop()
    return cost


def run(quick: bool = False) -> list[Figure]:
    large = 20_000 if quick else LARGE
    _count_aws()
    started = time.perf_counter()
    small, big = _poll_cost(SMALL), _poll_cost(large)
    cost_seconds = time.perf_counter() - started

    count = 2_000 if quick else 10_000
    volume = measure(count)
    floor_rate = count / volume.floor_seconds
    rate = volume.sent / volume.seconds
    among = f"{CHANGES} changes among {large:,} contacts"
    same_poll = f"the same poll among {SMALL:,} contacts"
    how = (
        f"One poll each, moto in-process and the simulated Intercom on loopback ({cost_seconds:.0f} s for "
        "both, seeding included); the seeded contacts predate the instance. AWS calls counted with "
        "botocore's provide-client-params hook."
    )
    return [
        Figure(
            key="poll.requests",
            label=f"poller: Intercom requests for {among}",
            value=big.requests,
            unit="requests",
            floor=small.requests,
            floor_label=same_poll,
            target=1.0,
            note=how,
            details={f"events sent ({SMALL:,} / {large:,})": f"{small.sent} / {big.sent}"},
        ),
        Figure(
            key="poll.dynamodb_calls",
            label=f"poller: DynamoDB calls for {among}",
            value=sum(big.dynamodb().values()),
            unit="calls",
            floor=sum(small.dynamodb().values()),
            floor_label=same_poll,
            target=1.0,
            note=how,
            details={f"among {SMALL:,}": small.dynamodb(), f"among {large:,}": big.dynamodb()},
        ),
        Figure(
            key="poll.duration",
            label=f"poller: one poll for {among}",
            value=big.ms,
            unit="ms",
            note=(
                "In-process (moto's DynamoDB and SQS in this process; Intercom's pages from the simulator "
                "on loopback). For benchmarks/unit_cost.py: the poll's Intercom requests and AWS calls."
            ),
            details={
                "intercom requests": big.requests,
                "calls": dict(sorted(big.calls.items())),
                f"ms among {SMALL:,}": round(small.ms, 1),
            },
        ),
        Figure(
            key="poll.events_per_second",
            label=f"poller: events a second through the polls of {count:,} changes",
            value=rate,
            unit="events/s",
            floor=floor_rate,
            floor_label="reading the same pages from the simulated Intercom, nothing sent or recorded",
            higher_is_better=True,
            runs=len(volume.outcomes),
            note=(
                f"{count:,} contacts changed at one instant, polled until done (benchmarks/poll_volume.py, "
                "moto in-process); the floor is events over the seconds the same pages take to read. The "
                "polls' time includes moto's DynamoDB and SQS answering in this process, which a deployed "
                "poller waits for instead of computing."
            ),
            details={
                "polls (outcome, events)": volume.outcomes,
                "each version sent exactly once": volume.once,
                "seconds (polls / floor)": f"{volume.seconds:.1f} / {volume.floor_seconds:.1f}",
                "DynamoDB calls": {k: v for k, v in sorted(volume.counted.items()) if k != "items written"},
                "DynamoDB items written": volume.counted["items written"],
            },
        ),
    ]


if __name__ == "__main__":
    emit(run("--quick" in sys.argv))
