"""A bulk update at volume: 50,000 Intercom-shaped contacts changed in one second, polled until done.

Run: `make bench-polling` (or `.venv/bin/python -m benchmarks.poll_volume [count]`): moto in-process, the
simulated Intercom on loopback, the poller's logic with a five-minute Lambda's time budget per poll.
Reports the events delivered (each version exactly once, checked), DynamoDB writes per change sent
(counted with botocore's event hooks), events a second through the polls, the ratio of that time to a
floor measured in the same run (reading the same pages from the simulated Intercom, nothing sent or
recorded), and the process's peak memory (moto and the simulator included). Figures only; no pass/fail
on time.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from benchmarks.in_process import ROOT, load, prepare

prepare()

from moto import mock_aws  # noqa: E402

LAMBDA_SECONDS = 300.0
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
TOKEN = "sample-access-token"  # noqa: S105 - the sample event's token


def count_dynamodb(counted: Counter[str]) -> None:
    """Every DynamoDB call, and the items each write call wrote, from botocore's event hooks."""
    from intercom_events.store.aws import client

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        counted[model.name] += 1
        if model.name == "BatchWriteItem":
            counted["items written"] += sum(len(v) for v in params["RequestItems"].values())
        elif model.name in WRITES:
            counted["items written"] += 1

    client("dynamodb").meta.events.register("provide-client-params.dynamodb.*", hook)


def record_sent(delivered: list[tuple[str, str]]) -> None:
    """Every event the poller enqueues, noted as it goes to SQS (reading 50,000 back off moto's queue
    costs more than the poll: it is purged after each poll instead)."""
    from intercom_events.logic import polling

    send = polling.queue.send

    def noting(jobs: list[Any]) -> None:
        send(jobs)
        delivered.extend((e.objectId, e.date) for job in jobs for e in job.events)

    polling.queue.send = noting  # type: ignore[assignment]


def read_floor(intercom: Any, count: int) -> float:
    """Seconds to read the window's pages from the simulated Intercom, newest first, nothing else."""
    from intercom_events.intercom.client import IntercomClient

    client = IntercomClient(intercom.url, TOKEN, "2.11")
    started = time.perf_counter()
    cursor, read = None, 0
    while True:
        page = client.search_page(
            "contacts",
            {"field": "updated_at", "operator": ">", "value": 0},
            per_page=150,
            starting_after=cursor,
            sort_field="updated_at",
            order="descending",
        )
        read += len(page.records)
        cursor = page.next_cursor
        if not cursor or read >= count:
            return time.perf_counter() - started


@dataclass
class Volume:
    """What one bulk update of `count` contacts, polled until done, came to."""

    count: int
    outcomes: list[tuple[str, int]]  # each poll's outcome and the events it sent
    sent: int  # events enqueued by the polls
    seconds: float  # the polls, end to end
    floor_seconds: float  # reading the same pages alone
    counted: Counter[str]  # DynamoDB calls by name, and "items written"
    missing: int  # changed versions never sent
    extra: int  # versions sent more than once, or never changed
    after_ok: bool  # a contact made afterwards is polled normally
    after_outcome: str

    @property
    def once(self) -> bool:
        return self.missing == 0 and self.extra == 0


def measure(count: int, *, verbose: bool = False) -> Volume:
    """`count` contacts changed at one instant, polled until done (moto in-process, the simulated
    Intercom on loopback), with the floor read in the same run."""
    from intercom_events.config import settings
    from intercom_events.logic import polling

    from local.aws import create_resources
    from local.intercom import SimulatedIntercom
    from local.lambda_runtime import LocalFunction
    from local.stack import clear_project_caches

    with mock_aws():
        clear_project_caches()
        resources = create_resources(None)  # type: ignore[arg-type]
        for name, value in resources.environment().items():
            if name != "AWS_ENDPOINT_URL":
                os.environ[name] = value
        intercom = SimulatedIntercom().start()
        os.environ["INTERCOM_API_BASE_URL"] = intercom.url
        settings.cache_clear()
        intercom.issue_token(token=TOKEN)
        api = LocalFunction("api", load("api").lambda_handler, timeout_seconds=30)
        create = json.loads((ROOT / "events/api/create_instance_polling.json").read_text())
        body = json.loads(create["body"])
        body["configuration"]["event.objects"] = "contacts"
        create["body"] = json.dumps(body)
        instance_id = json.loads(api.invoke(create)["body"])["id"]
        workspace = intercom.workspace
        made = workspace.seed("contacts", count, start=int(time.time()) - 86400, spacing=0)
        time.sleep(1.1)  # the bulk update lands after the instance's creation second
        started_update = time.perf_counter()
        changed = workspace.bulk_update("contacts", [c["id"] for c in made], name="imported")
        if verbose:
            print(
                f"bulk update: {count:,} contacts at one instant in "
                f"{time.perf_counter() - started_update:.1f} s"
            )
        floor = read_floor(intercom, count)

        counted: Counter[str] = Counter()
        count_dynamodb(counted)
        outcomes: list[tuple[str, int]] = []
        delivered: list[tuple[str, str]] = []
        record_sent(delivered)
        sqs = resources.client("sqs")
        started = time.perf_counter()
        while True:
            poll_start = time.perf_counter()
            report = polling.poll(
                instance_id,
                time_left=lambda s=poll_start: LAMBDA_SECONDS - (time.perf_counter() - s),  # type: ignore[misc]
                owner=f"bench-{len(outcomes)}",
            )
            outcomes.append((report.outcome, report.events.get("contacts", 0)))
            sqs.purge_queue(QueueUrl=resources.queue_url)
            if report.outcome == "done" or len(outcomes) > 20:
                break
        elapsed = time.perf_counter() - started
        burst = list(delivered)

        later = workspace.create("contacts")
        time.sleep(1.1)
        after = polling.poll(instance_id, time_left=lambda: LAMBDA_SECONDS, owner="bench-after")
        after_events = delivered[len(burst) :]
        intercom.stop()

    expected = Counter(
        (c["id"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["updated_at"]))) for c in changed
    )
    got = Counter(burst)
    return Volume(
        count=count,
        outcomes=outcomes,
        sent=sum(n for _, n in outcomes),
        seconds=elapsed,
        floor_seconds=floor,
        counted=counted,
        missing=sum((expected - got).values()),
        extra=sum((got - expected).values()),
        after_ok=[o for o, _ in after_events] == [later["id"]],
        after_outcome=after.outcome,
    )


def main(count: int) -> None:
    result = measure(count, verbose=True)
    sent, counted = result.sent, result.counted
    print(f"polls: {result.outcomes}")
    print(
        f"events delivered: {sent:,} of {count:,} changes; each version exactly once: {result.once}"
        f" (missing {result.missing}, extra {result.extra})"
    )
    writes = counted["items written"]
    print(
        f"DynamoDB: {writes:,} items written in {sum(counted[w] for w in WRITES):,} write calls = "
        f"{writes / max(sent, 1):.3f} writes per change sent; calls: "
        f"{json.dumps(dict(sorted(counted.items())))}"
    )
    elapsed, floor = result.seconds, result.floor_seconds
    print(
        f"through the polls: {sent / elapsed:,.0f} events a second ({elapsed:.1f} s); reading the same pages"
        f" alone: {floor:.1f} s, so the polls take {elapsed / floor:.1f} x the read floor"
    )
    print(f"afterwards: a new contact polled normally: {result.after_outcome}, {result.after_ok}")
    print(f"peak memory (whole process, moto and the simulator included): {peak_mb():.0f} MB")


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
