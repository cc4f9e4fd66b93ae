"""Lambda's SQS event source mapping, emulated: poll the queue, invoke the function with a batch,
delete what succeeded.

As with `FunctionResponseTypes: [ReportBatchItemFailures]`: messages named in the answer's
`batchItemFailures` stay on the queue and come back when their visibility timeout ends (the
dispatcher itself shortens or lengthens it for its backoff); a function error keeps the whole batch;
an answer naming a message that was not in the batch counts as a failure of the whole batch.

Several batches run side by side, as Lambda runs them in several execution environments (up to the
mapping's MaximumConcurrency): one poller thread per environment the function offers, so a slow
receiver holds up only the batch it is in.
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
from local.lambda_runtime import REGION, Function, FunctionError, Handler, as_function

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
    """Feeds a queue to a function in batches, on background threads (`start`) or on demand (`drain_once`).

    `handler`: a Function (its `concurrency` is how many batches run at once) or an in-process callable
    (one batch at a time)."""

    def __init__(
        self,
        handler: Handler | Function,
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
        self.function = as_function(
            handler, function_name, timeout_seconds=timeout_seconds, memory_mb=memory_mb
        )
        self.queue_url = queue_url
        self.region = region
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self._endpoint_url = endpoint_url
        self._sqs = aws_client("sqs", endpoint_url, region)
        self._queue_arn: str | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = str(attributes["Attributes"]["QueueArn"])
        return self._queue_arn

    def drain_once(self, wait_seconds: int | None = None, *, sqs: Any = None) -> BatchResult:
        """One poll: receive up to a batch, invoke the function if anything came, delete the successes."""
        sqs = sqs or self._sqs
        received = sqs.receive_message(
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
        except FunctionError as error:
            # The environment logged it (or its timeout); the batch stays, as after any function error.
            result.failed_ids = list(result.message_ids)
            result.error = str(error)
            return result
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
            sqs.delete_message_batch(
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

    @property
    def pollers(self) -> int:
        """How many batches may run at once: one per execution environment of the function."""
        return self.function.concurrency

    def start(self) -> Self:
        if not self._threads:
            self._stopping.clear()
            for number in range(self.pollers):
                thread = threading.Thread(target=self._run, name=f"QueueWorker-{number}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self, timeout: float = 35.0) -> None:
        """Stops polling after the batches in hand; waits for them at most `timeout` seconds."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def _run(self) -> None:
        # A client per poller: a long poll holds its connection.
        sqs = aws_client("sqs", self._endpoint_url, self.region)
        while not self._stopping.is_set():
            try:
                self.drain_once(sqs=sqs)
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
