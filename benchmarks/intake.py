"""Warm intake: a webhook through the api function, against a handler that only makes the one SendMessage.

Run: `.venv/bin/python -m benchmarks.intake [--quick]`. The api function is loaded in this process as
Lambda loads it and called as Lambda calls it, `lambda_handler(event, context)`; its AWS is a moto server
in a process of its own on loopback (local/moto_process.py), so every AWS call is a real HTTP round trip
as on Lambda. A webhook instance is made first; then thousands of signed notifications, each with a new
id (none a duplicate), go through the handler with the template's log level and metrics on (their output
to /dev/null). The floor runs in the same process and the same run, interleaved with it in chunks: a
handler making only the one SendMessage (a client with store/aws.py's Config, the same queue, the same
body, a MessageGroupId as ours), called the same way. AWS calls are counted with botocore's event hooks.
Figures only; nothing here is a test.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from benchmarks.figures import Figure, emit, median, percentile
from benchmarks.in_process import ROOT, load, prepare

CLIENT_SECRET = "sample-client-secret"  # noqa: S105 - the sample event's Intercom app secret
CHUNK = 25  # webhooks (and floor calls) in one turn; the queue is emptied after each pair of turns


def _webhooks(count: int) -> list[dict[str, Any]]:
    """The sample webhook, signed, each with a notification id of its own."""
    from intercom_events.intercom.signature import hub_signature

    sample = json.loads((ROOT / "events/api/webhook_contact_created.json").read_text())
    notification = json.loads(sample["body"])
    events = []
    for i in range(count):
        body = json.dumps({**notification, "id": f"notif_bench-{i:08d}"}, separators=(",", ":")).encode()
        event = copy.deepcopy(sample)
        event["body"] = body.decode()
        event["headers"]["x-hub-signature"] = hub_signature(body, CLIENT_SECRET)
        events.append(event)
    return events


def _timed(
    handler: Callable[[dict[str, Any], Any], Any], events: list[dict[str, Any]], accepted: bool = False
) -> list[float]:
    """Milliseconds each call took; every answer must be a 200 (and with `accepted`, say so)."""
    from local.lambda_runtime import LambdaContext

    times = []
    for event in events:
        context = LambdaContext("api")
        started = time.perf_counter()
        answer = handler(event, context)
        times.append((time.perf_counter() - started) * 1000)
        if answer.get("statusCode") != 200 or (
            accepted and json.loads(answer["body"])["status"] != "accepted"
        ):
            raise RuntimeError(f"a webhook was answered {answer.get('statusCode')}: {answer.get('body')}")
    return times


def _own_work(handler: Callable[[dict[str, Any], Any], Any], events: list[dict[str, Any]]) -> list[float]:
    """The handler's time with the SendMessage answered at once in this process: its own work alone."""
    from intercom_events.store import aws

    sqs = aws.client("sqs")
    sqs.send_message = lambda **_: {"MessageId": "local"}
    try:
        return _timed(handler, events, accepted=True)
    finally:
        del sqs.send_message


def _drain(sqs: Any, queue_url: str) -> int:
    """Takes every message off the queue (PurgeQueue is allowed once a minute): how many there were."""
    taken = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return taken
        taken += len(messages)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)


def run(quick: bool = False) -> list[Figure]:
    prepare()
    # As deployed (template.yaml): INFO logs and metrics on; the instance cached for its default 5 s.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
    os.environ.pop("INSTANCE_CACHE_SECONDS", None)
    count = 300 if quick else 2000

    from local.aws import MotoServer, create_resources

    moto = MotoServer().start()
    try:
        resources = create_resources(moto.endpoint_url)
        os.environ.update(resources.environment())
        return _measure(resources, count)
    finally:
        moto.stop()


def _measure(resources: Any, count: int) -> list[Figure]:
    import boto3
    from botocore.config import Config
    from intercom_events.observability import logger
    from intercom_events.store import aws

    from local.lambda_runtime import LambdaContext

    api = load("api")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open for the whole run
    logger.registered_handler.setStream(devnull)  # type: ignore[attr-defined]

    # Every AWS call of every client made after this, by service and operation.
    calls: Counter[str] = Counter()
    sent: list[str] = []

    def count_call(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1
        if model.name == "SendMessage" and not sent:
            sent.append(params["MessageBody"])

    aws.new_client("sts")  # makes the process's Session, whose event hooks its clients copy
    aws._session.events.register("provide-client-params.*.*", count_call)

    create = json.loads((ROOT / "events/api/create_instance_token.json").read_text())
    with contextlib.redirect_stdout(devnull):
        made = api.lambda_handler(create, LambdaContext("api"))
        if made["statusCode"] != 200:
            raise RuntimeError(f"the instance was not made: {made['body']}")
        # Warm: the first webhook loads the instance, makes the SQS client, and is not counted.
        _timed(api.lambda_handler, _webhooks(1))

    # A Session of its own: the floor's calls are not counted with ours.
    sqs = boto3.session.Session().client(
        "sqs",
        config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}),
    )
    body, queue_url = sent[0], resources.queue_url

    def floor(event: dict[str, Any], context: Any) -> dict[str, Any]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageGroupId="1")
        return {"statusCode": 200, "body": ""}

    floor(None, None)  # type: ignore[arg-type]  # warm as well
    webhooks = _webhooks(count + 1)[1:]
    floor_events = copy.deepcopy(webhooks)
    ours: list[float] = []
    floors: list[float] = []
    per_webhook: Counter[int] = Counter()
    calls.clear()
    queued = 0
    size = CHUNK
    with contextlib.redirect_stdout(devnull):
        for start in range(0, count, size):
            chunk = webhooks[start : start + size]
            # Alternate which goes first, so that neither always follows the other's garbage.
            turns = [(ours, api.lambda_handler, chunk), (floors, floor, floor_events[start : start + size])]
            for times, handler, events in turns if (start // size) % 2 == 0 else reversed(turns):
                if handler is floor:
                    times.extend(_timed(handler, events))
                    continue
                for event in events:
                    before = sum(calls.values())
                    times.extend(_timed(handler, [event], accepted=True))
                    per_webhook[sum(calls.values()) - before] += 1
            # Counted and emptied between chunks: moto's SendMessage slows as its queue grows.
            queued += _drain(sqs, queue_url)
        ours_calls = dict(sorted(calls.items()))
        own = _own_work(api.lambda_handler, _webhooks(count + 301)[count + 1 :])

    expected = 2 + len(ours) + len(floors)  # the warm-up webhook and floor call too
    mean_calls = sum(k * v for k, v in per_webhook.items()) / max(1, len(ours))
    note = (
        f"{len(ours)} webhooks and {len(floors)} floor calls, taking turns {CHUNK} at a time, "
        "lambda_handler(event, context) in-process, AWS a moto server on loopback (one HTTP round trip "
        "per call); INFO logs and metrics on, as deployed. What separates the two is the handler's own "
        "work (measured alone with SendMessage answered in-process, in the details); right after waiting "
        "on the socket, on a 2-core machine it shares with the moto server, it costs several times that."
    )
    return [
        Figure(
            key="intake.warm",
            label="api: a warm webhook (verified, enqueued, answered)",
            value=median(ours),
            unit="ms",
            floor=median(floors),
            floor_label="a handler making only the one SendMessage (same client Config, queue and body)",
            target=1.2,
            runs=len(ours),
            note=note,
            details={
                "p99 ms": round(percentile(ours, 0.99), 2),
                "floor p99 ms": round(percentile(floors, 0.99), 2),
                "answers 200": len(ours),
                "messages queued": f"{queued} of {expected}",
                "own work ms (SendMessage answered in-process)": round(median(own), 3),
            },
        ),
        Figure(
            key="intake.calls",
            label="api: AWS calls per warm webhook (median)",
            value=float(median([k for k, v in per_webhook.items() for _ in range(v)])),
            unit="calls",
            target=1,
            runs=len(ours),
            note=(
                "Counted with botocore's provide-client-params hook. The instance is cached for "
                "INSTANCE_CACHE_SECONDS (5 s): a webhook after it expires reads it again (DynamoDB GetItem, "
                "KMS Decrypt)."
            ),
            details={
                # per webhook, as benchmarks/unit_cost.py prices them
                "calls": {name: round(n / len(ours), 4) for name, n in ours_calls.items()},
                "calls counted": ours_calls,
                "webhooks by calls made": {str(k): v for k, v in sorted(per_webhook.items())},
                "mean calls per webhook": round(mean_calls, 4),
            },
        ),
    ]


if __name__ == "__main__":
    emit(run("--quick" in sys.argv))
