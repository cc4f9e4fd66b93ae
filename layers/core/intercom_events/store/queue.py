"""The callback queue: jobs in, jobs out, and visibility changes that space out retries.

A job too large for one SQS message (256 KB: a big Intercom notification, a page of long
conversations) goes to S3, and the message carries a pointer to it; the dispatcher reads it back.

Every message carries its instance as MessageGroupId, which makes the standard queue an SQS fair
queue. The rate limit's deferred jobs (`defer`) and the circuit breaker's timer and drain messages
(`send_control`) go on the same queue.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import settings
from ..models.events import CallbackJob
from ..observability import tracer
from .aws import client

MAX_MESSAGE_BYTES = 240_000  # SQS allows 262,144; the rest is room for attributes
MAX_MESSAGE_DELAY_SECONDS = 900  # SQS's longest DelaySeconds
# SQS refuses U+FFFE and U+FFFF in a message, though JSON strings may hold them: sent as JSON escapes.
_SQS_ESCAPES = {0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"}


def message_body(job: CallbackJob) -> str:
    body = job.model_dump_json(exclude_none=True).translate(_SQS_ESCAPES)
    if len(body.encode()) <= MAX_MESSAGE_BYTES:
        return body
    bucket = settings().body_bucket_name
    if not bucket:
        raise RuntimeError("a callback job exceeds one SQS message and BODY_BUCKET_NAME is not set")
    key = f"jobs/{job.instanceId}/{job.eventId}.json"
    client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return json.dumps(
        {"instanceId": job.instanceId, "eventId": job.eventId, "bodyRef": {"bucket": bucket, "key": key}}
    )


@tracer.capture_method(capture_response=False)
def load(body: str) -> CallbackJob:
    """The job a message carries, read from S3 when the message holds only a pointer."""
    parsed: dict[str, Any] = json.loads(body)
    reference = parsed.get("bodyRef")
    if isinstance(reference, dict):
        stored = client("s3").get_object(Bucket=reference["bucket"], Key=reference["key"])
        return CallbackJob.model_validate_json(stored["Body"].read())
    return CallbackJob.model_validate(parsed)


# Not traced: every webhook comes through here, and X-Ray's botocore patch already puts each SQS call in
# the trace; a subsegment around it (a few dozen microseconds each) would say nothing more.
def send(jobs: list[CallbackJob]) -> None:
    by_instance: dict[int, list[str]] = {}
    for job in jobs:
        by_instance.setdefault(job.instanceId, []).append(message_body(job))
    for instance_id, bodies in by_instance.items():
        _send_bodies(bodies, instance_id)


def _group(instance_id: int) -> str:
    """The message group of an instance's jobs: on a standard queue it makes SQS a fair queue, which
    serves a quiet instance's messages before a busy one's backlog (no FIFO ordering comes with it)."""
    return str(instance_id)


@tracer.capture_method(capture_response=False)
def send_bodies(bodies: list[str], instance_id: int) -> None:
    """Messages already made (a breaker's drain, a replay), traced."""
    _send_bodies(bodies, instance_id)


def _send_bodies(bodies: list[str], instance_id: int) -> None:
    """One instance's jobs: one SendMessage for one message, one SendMessageBatch per ten otherwise."""
    sqs = client("sqs")
    url = settings().queue_url
    group = _group(instance_id)
    if len(bodies) == 1:
        sqs.send_message(QueueUrl=url, MessageBody=bodies[0], MessageGroupId=group)
        return
    for start in range(0, len(bodies), 10):
        batch = bodies[start : start + 10]
        # A batch's total is capped at 256 KB too: big messages go one by one.
        if sum(len(body.encode()) for body in batch) > MAX_MESSAGE_BYTES:
            for body in batch:
                sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
            continue
        answer = sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": body, "MessageGroupId": group} for i, body in enumerate(batch)
            ],
        )
        if answer.get("Failed"):
            codes = sorted({f.get("Code", "?") for f in answer["Failed"]})
            raise RuntimeError(f"SQS refused {len(answer['Failed'])} of {len(batch)} jobs: {codes}")


# Message attributes of a job deferred by the rate limit: its reserved slot (epoch seconds), and for a
# retry the attempt number its first receive stands for.
NOT_BEFORE = "notBefore"
ATTEMPT = "attempt"


@tracer.capture_method(capture_response=False)
def defer(body: str, instance_id: int, delay_seconds: int, not_before: float, attempt: int) -> None:
    """The job again as a new message, visible after `delay_seconds` (at most SQS's 900), holding its
    rate-limit slot: a new message's receive count starts at 1, so waiting spends none of its tries."""
    attributes = {NOT_BEFORE: {"DataType": "Number", "StringValue": f"{not_before:.6f}"}}
    if attempt > 1:
        attributes[ATTEMPT] = {"DataType": "Number", "StringValue": str(attempt)}
    client("sqs").send_message(
        QueueUrl=settings().queue_url,
        MessageBody=body,
        DelaySeconds=delay_seconds,
        MessageGroupId=_group(instance_id),
        MessageAttributes=attributes,
    )


@tracer.capture_method(capture_response=False)
def delay_retry(receipt_handle: str, seconds: int) -> None:
    """Hide a failed message for `seconds`; SQS redelivers it then (its receive count is the attempt)."""
    client("sqs").change_message_visibility(
        QueueUrl=settings().queue_url,
        ReceiptHandle=receipt_handle,
        VisibilityTimeout=max(0, min(seconds, 43200)),
    )


@tracer.capture_method(capture_response=False)
def send_control(body: dict[str, Any], instance_id: int, delay_seconds: int = 0) -> None:
    """A message for the dispatcher itself about one instance (the circuit breaker's timer), visible
    after the delay (at most SQS's 15 minutes: the receiver sends it on again when more is left)."""
    client("sqs").send_message(
        QueueUrl=settings().queue_url,
        MessageBody=json.dumps(body, separators=(",", ":")),
        DelaySeconds=max(0, min(delay_seconds, MAX_MESSAGE_DELAY_SECONDS)),
        MessageGroupId=_group(instance_id),
    )
