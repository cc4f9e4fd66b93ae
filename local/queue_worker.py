"""Lambda's SQS event source mapping, emulated: poll the queue, invoke the function with a batch,
delete what succeeded.

As with `FunctionResponseTypes: [ReportBatchItemFailures]`: messages named in the answer's
`batchItemFailures` stay on the queue and come back when their visibility timeout ends (the
dispatcher itself shortens or lengthens it for its backoff); a function error keeps the whole batch;
an answer naming a message that was not in the batch counts as a failure of the whole batch.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Self

from local.aws import aws_client
from local.lambda_runtime import REGION, Handler, LocalFunction

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What one poll did: the messages handed to the function and those left on the queue."""

    message_ids: list[str] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def deleted_ids(self) -> list[str]:
        return [m for m in self.message_ids if m not in self.failed_ids]


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from a ReceiveMessage message."""
    attributes = dict(message.get("Attributes") or {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # Lambda spells SQS's attribute fields in camelCase and carries binary values as base64.
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [b64(v) for v in value.get("BinaryListValues") or []],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = b64(value["BinaryValue"])
    return attribute


class QueueWorker:
    """Feeds a queue to a handler in batches, on a background thread (`start`) or on demand (`drain_once`)."""

    def __init__(
        self,
        handler: Handler,
        queue_url: str,
        *,
        endpoint_url: str,
        region: str = REGION,
        batch_size: int = 10,
        wait_seconds: int = 1,
        function_name: str = "dispatcher",
        timeout_seconds: float = 30.0,
        memory_mb: int = 512,
    ) -> None:
        self.function = LocalFunction(
            function_name, handler, timeout_seconds=timeout_seconds, memory_mb=memory_mb
        )
        self.queue_url = queue_url
        self.region = region
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self._sqs = aws_client("sqs", endpoint_url, region)
        self._queue_arn: str | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = str(attributes["Attributes"]["QueueArn"])
        return self._queue_arn

    def drain_once(self, wait_seconds: int | None = None) -> BatchResult:
        """One poll: receive up to a batch, invoke the function if anything came, delete the successes."""
        received = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds if wait_seconds is None else wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = received.get("Messages") or []
        result = BatchResult(message_ids=[m["MessageId"] for m in messages])
        if not messages:
            return result
        event = {"Records": [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]}
        try:
            answer = self.function.invoke(event)
        except Exception:
            traceback.print_exc()
            result.failed_ids = list(result.message_ids)
            result.error = "function error"
            return result

        failed = _reported_failures(answer, set(result.message_ids))
        if failed is None:
            result.failed_ids = list(result.message_ids)
            result.error = "invalid batchItemFailures"
            logger.error("invalid batch response, the whole batch stays on the queue: %r", answer)
            return result
        result.failed_ids = [m for m in result.message_ids if m in failed]
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return result

    def drain(self, *, timeout: float = 30.0) -> list[BatchResult]:
        """Polls until a poll finds nothing visible (failed messages wait out their visibility)."""
        deadline = time.monotonic() + timeout
        results: list[BatchResult] = []
        while time.monotonic() < deadline:
            result = self.drain_once(wait_seconds=0)
            if not result.message_ids:
                break
            results.append(result)
        return results

    def start(self) -> Self:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="QueueWorker", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 35.0) -> None:
        """Stops polling after the batch in hand; waits for it at most `timeout` seconds."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.drain_once()
            except Exception:
                # The queue being unreachable for a moment (the stack stopping) must not end the loop.
                logger.exception("polling the queue failed")
                self._stopping.wait(1.0)


def _reported_failures(answer: Any, batch_ids: set[str]) -> set[str] | None:
    """The ids the function reported as failed, or None when the report is not one Lambda accepts."""
    if answer is None:
        return set()
    if not isinstance(answer, dict):
        return set()
    items = answer.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return None
        failed.add(identifier)
    return failed
