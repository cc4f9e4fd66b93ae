"""The dispatcher: a batch of 10 callbacks to a slow receiver against a batch of one, and what AWS calls
each delivered event costs.

Run: `.venv/bin/python -m benchmarks.dispatch [--quick] [--json PATH]`. The dispatcher's handler runs in
this process over moto in-process (`mock_aws`), as Lambda runs it: one event loop for the life of the
environment (Powertools keeps it when LAMBDA_TASK_ROOT is set), the instance cached between invocations.
Its callbacks go to local/receiver.py on loopback, which answers each after 200 ms. Each invocation is a
batch of new jobs (new event ids) of one instance; after one warm-up of each size, batches of one and of
ten alternate, and each figure is the median wall time of the handler's invocation. AWS calls are
counted with botocore's event hooks on the clients the project uses. Figures only; nothing here is a test.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Any

from benchmarks.figures import Figure, emit, median, percentile
from benchmarks.in_process import ROOT, load, prepare

prepare()
# Powertools' batch processor keeps one event loop across invocations only in Lambda (it looks for this
# variable), as the dispatcher's callback client and its connections do with it.
os.environ.setdefault("LAMBDA_TASK_ROOT", str(ROOT))

from moto import mock_aws  # noqa: E402

RECEIVER_DELAY_SECONDS = 0.2
BATCH = 10
TARGET_RATIO = 1.3
TARGET_WRITES = 2
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
SERVICES = ("dynamodb", "sqs", "kms", "events", "scheduler")


@contextmanager
def counting(calls: Counter[str], durations: dict[str, list[float]]) -> Iterator[None]:
    """Every AWS call the project's clients make, as `service:Operation`, and each one's time (moto's
    emulation of it, in-process), from botocore's event hooks."""
    from intercom_events.store.aws import client

    def before(model: Any, context: dict[str, Any], **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1
        context["bench_started"] = time.perf_counter()

    def after(model: Any, context: dict[str, Any], **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        durations.setdefault(name, []).append((time.perf_counter() - context["bench_started"]) * 1000)

    emitters = [client(service).meta.events for service in SERVICES]
    for events in emitters:
        events.register("before-call", before)
        events.register("after-call", after)
    try:
        yield
    finally:
        for events in emitters:
            events.unregister("before-call", before)
            events.unregister("after-call", after)


def _job(instance_id: int) -> str:
    template = json.loads((ROOT / "events/dispatcher/batch.json").read_text())["Records"][0]["body"]
    job = json.loads(template)
    job.update(instanceId=instance_id, eventId=str(uuid.uuid4()), notificationId=str(uuid.uuid4()))
    return json.dumps(job)


def _batch(instance_id: int, size: int, queue_arn: str) -> dict[str, Any]:
    """An SQS event of `size` new jobs, as the event source mapping hands it over (first receives)."""
    records = []
    for _ in range(size):
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": str(uuid.uuid4()),
                "body": _job(instance_id),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def _close_loop() -> None:
    """The loop Powertools kept, closed as a Lambda environment's ends: the callback client with it."""
    loop = asyncio.get_event_loop()
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


def run(quick: bool = False) -> list[Figure]:
    from intercom_events.config import settings

    from local.aws import create_resources
    from local.lambda_runtime import LocalFunction
    from local.receiver import CallbackReceiver, Reply

    runs = 3 if quick else 9
    slow, fast = Reply(delay=RECEIVER_DELAY_SECONDS), Reply()
    times: dict[tuple[Reply, int], list[float]] = {(r, n): [] for r in (slow, fast) for n in (1, BATCH)}
    # Powertools prints the metrics it holds every 100 values even when they are disabled: not wanted here.
    with mock_aws(), CallbackReceiver(default=slow) as receiver, redirect_stdout(io.StringIO()):
        resources = create_resources(None)  # type: ignore[arg-type]  # no endpoint: moto in-process
        for name, value in resources.environment().items():
            if name != "AWS_ENDPOINT_URL":
                os.environ[name] = value
        settings.cache_clear()
        api = LocalFunction("api", load("api").lambda_handler)
        dispatcher = LocalFunction("dispatcher", load("dispatcher").lambda_handler, timeout_seconds=60)
        create = json.loads((ROOT / "events/api/create_instance_token.json").read_text())
        body = json.loads(create["body"])
        body["configuration"]["event.notification.callback.url"] = f"{receiver.url}/cb"
        create["body"] = json.dumps(body)
        created = api.invoke(create)
        instance_id = int(json.loads(created["body"])["id"])

        call_ms: dict[str, list[float]] = {}  # each AWS call's time, in the invocation under way
        serial_ms: dict[str, list[float]] = {}  # in batches of one: calls made one at a time

        def invoke(reply: Reply, size: int) -> float:
            receiver.respond_always(reply)
            call_ms.clear()
            event = _batch(instance_id, size, resources.queue_arn)
            started = time.perf_counter()
            answer = dispatcher.invoke(event)
            elapsed = (time.perf_counter() - started) * 1000
            if answer != {"batchItemFailures": []}:
                raise RuntimeError(f"a batch of {size} was not all delivered: {answer}")
            times[reply, size].append(elapsed)
            if size == 1:
                for name, values in call_ms.items():
                    serial_ms.setdefault(name, []).extend(values)
            return elapsed

        cold: Counter[str] = Counter()
        with counting(cold, {}):
            invoke(slow, 1)  # the first: the instance and the delivery state read, the KMS key decrypted
        invoke(slow, BATCH)
        for series in times.values():
            series.clear()
        warm: Counter[str] = Counter()
        with counting(warm, call_ms):
            for _ in range(runs):
                for reply in (slow, fast):
                    invoke(reply, 1)
                    invoke(reply, BATCH)
        delivered = runs * 2 * (1 + BATCH)
        expected = 1 + BATCH + delivered
        if len(receiver.requests) != expected:
            raise RuntimeError(f"{len(receiver.requests)} callbacks reached the receiver, {expected} sent")
        _close_loop()

    ones, tens = times[slow, 1], times[slow, BATCH]
    # What the receiver's 200 ms add to a batch, run by run: the same batch to a receiver answering at once
    # does the same AWS calls and the same work, so the difference is the waiting, overlapped or not.
    waits_one = [s - f for s, f in zip(ones, times[fast, 1], strict=True)]
    waits_ten = [s - f for s, f in zip(tens, times[fast, BATCH], strict=True)]
    per_event = {name: round(count / delivered, 2) for name, count in sorted(warm.items())}
    writes = sum(count for name, count in warm.items() if name.split(":")[1] in WRITES) / delivered
    cold_writes = sum(count for name, count in cold.items() if name.split(":")[1] in WRITES)
    emulated = {name: round(median(values), 1) for name, values in sorted(serial_ms.items())}
    emulation_ms = BATCH * sum(warm[name] / delivered * median(values) for name, values in serial_ms.items())
    how = (
        f"The dispatcher's handler in-process over moto (mock_aws), its loop kept across invocations as "
        f"in Lambda; local/receiver.py on loopback answering each callback after "
        f"{RECEIVER_DELAY_SECONDS * 1000:.0f} ms; {runs} runs of each batch, alternating, after a warm-up."
    )
    why = (
        "Missed because of the emulator, not the dispatcher: moto emulates each DynamoDB call in this "
        "process, in Python, under the GIL (median ms per call in the details), so a batch's 20 UpdateItem "
        f"calls run one after another, about {emulation_ms:.0f} ms of the batch of {BATCH}, holding up the "
        "callbacks and their answers; DynamoDB answers in a few ms without this process's CPU. The next "
        "figure takes that work out: the same batches to a receiver answering at once."
    )
    return [
        Figure(
            key="dispatch.batch10",
            label=f"dispatcher: a batch of {BATCH} callbacks to a receiver answering after 200 ms",
            value=median(tens),
            unit="ms",
            floor=median(ones),
            floor_label="a batch of one callback to the same receiver",
            target=TARGET_RATIO,
            runs=runs,
            note=f"{how} {why}",
            details={
                "receiver ms": RECEIVER_DELAY_SECONDS * 1000,
                "batch size": BATCH,
                # For benchmarks/unit_cost.py: the batch's own work, the receiver's wait and moto's taken out.
                "own work ms": round(max(0.0, median(times[fast, BATCH]) - emulation_ms), 1),
                f"batch of {BATCH}: p99 ms": round(percentile(tens, 0.99), 1),
                "batch of 1: p99 ms": round(percentile(ones, 0.99), 1),
                f"batch of {BATCH} to a receiver answering at once: median ms": round(
                    median(times[fast, BATCH]), 1
                ),
                "batch of 1 to a receiver answering at once: median ms": round(median(times[fast, 1]), 1),
                "moto in-process, median ms per call (batches of one)": emulated,
            },
        ),
        Figure(
            key="dispatch.batch10_wait",
            label=f"dispatcher: what a 200 ms receiver adds to a batch of {BATCH}",
            value=median(waits_ten),
            unit="ms",
            floor=median(waits_one),
            floor_label="what it adds to a batch of one",
            target=TARGET_RATIO,
            runs=runs,
            note=(
                f"{how} Each batch's time less the same batch's time to a receiver answering at once (the "
                "same AWS calls and work), run by run: 10 slow callbacks wait about as long as one when "
                "they overlap."
            ),
        ),
        Figure(
            key="dispatch.aws_calls",
            label="dispatcher: AWS calls per delivered event (warm: the instance cached)",
            value=sum(warm.values()) / delivered,
            unit="calls",
            runs=runs,
            note=f"Counted with botocore's before-call hook over {delivered} delivered events.",
            details={"per delivered event": per_event, "first event of a cold environment": dict(cold)},
        ),
        Figure(
            key="dispatch.dynamodb_writes",
            label="dispatcher: DynamoDB writes per delivered event",
            value=writes,
            unit="writes",
            target=TARGET_WRITES,
            runs=runs,
            note=(
                "The claim (which also keeps the job on the event, for a replay) and the result; counted "
                f"with botocore's before-call hook over {delivered} delivered events."
            ),
            details={"first event of a cold environment": cold_writes},
        ),
    ]


if __name__ == "__main__":
    emit(run("--quick" in sys.argv))
