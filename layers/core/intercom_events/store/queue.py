"""The callback queue: jobs in, jobs out, and visibility changes that space out retries.

A job too large for one SQS message (256 KB: a big Intercom notification, a page of long
conversations) goes to S3, and the message carries a pointer to it; the dispatcher reads it back.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import settings
from ..models.events import CallbackJob
from ..observability import tracer
from .aws import client

MAX_MESSAGE_BYTES = 240_000  # SQS allows 262,144; the rest is room for attributes
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


@tracer.capture_method(capture_response=False)
def send(jobs: list[CallbackJob]) -> None:
    send_bodies([message_body(job) for job in jobs])


@tracer.capture_method(capture_response=False)
def send_bodies(bodies: list[str]) -> None:
    """One SendMessage for one message, one SendMessageBatch per ten otherwise."""
    sqs = client("sqs")
    url = settings().queue_url
    if len(bodies) == 1:
        sqs.send_message(QueueUrl=url, MessageBody=bodies[0])
        return
    for start in range(0, len(bodies), 10):
        batch = bodies[start : start + 10]
        # A batch's total is capped at 256 KB too: big messages go one by one.
        if sum(len(body.encode()) for body in batch) > MAX_MESSAGE_BYTES:
            for body in batch:
                sqs.send_message(QueueUrl=url, MessageBody=body)
            continue
        answer = sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        )
        if answer.get("Failed"):
            codes = sorted({f.get("Code", "?") for f in answer["Failed"]})
            raise RuntimeError(f"SQS refused {len(answer['Failed'])} of {len(batch)} jobs: {codes}")


@tracer.capture_method(capture_response=False)
def delay_retry(receipt_handle: str, seconds: int) -> None:
    """Hide a failed message for `seconds`; SQS redelivers it then (its receive count is the attempt)."""
    client("sqs").change_message_visibility(
        QueueUrl=settings().queue_url,
        ReceiptHandle=receipt_handle,
        VisibilityTimeout=max(0, min(seconds, 43200)),
    )
