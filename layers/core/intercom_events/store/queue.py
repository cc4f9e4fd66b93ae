"""The callback queue: jobs in, and visibility changes that space out retries."""

from __future__ import annotations

from ..config import settings
from ..models.events import CallbackJob
from ..observability import tracer
from .aws import client


@tracer.capture_method(capture_response=False)
def send(jobs: list[CallbackJob]) -> None:
    """One SendMessage for one job, one SendMessageBatch per ten otherwise."""
    sqs = client("sqs")
    url = settings().queue_url
    if len(jobs) == 1:
        sqs.send_message(QueueUrl=url, MessageBody=jobs[0].model_dump_json(exclude_none=True))
        return
    for start in range(0, len(jobs), 10):
        batch = jobs[start : start + 10]
        answer = sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": job.model_dump_json(exclude_none=True)}
                for i, job in enumerate(batch)
            ],
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
