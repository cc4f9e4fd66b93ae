"""The dispatcher function: SQS batches of callback jobs, delivered concurrently, failures reported per item.

Wiring only: the batch processor, the decorator stack, and one logic call per record.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_events.config import require_settings
from intercom_events.logic import pacing
from intercom_events.logic.delivery import RetryLater, deliver_message
from intercom_events.observability import logger, metrics, tracer
from intercom_events.store import queue

# The callbacks' httpx calls are not traced (no trace_httpx here): X-Ray keeps its open subsegments per
# thread, and the batch's callbacks run as tasks on one thread, so one callback's subsegment ended
# another's and the send raised AlreadyEndedException after the receiver had the callback: recorded as
# failed, it was sent again. Their times are the DeliveryLatency metric.

# A batch whose receivers all failed is an ordinary outcome, not a function error: its records are
# reported one by one, so the function's Errors alarm speaks only of real faults.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


async def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> str:
    """Powertools hands the Lambda context to a record handler with a `lambda_context` parameter: each
    callback's deadline is cut to fit the invocation's remaining time."""
    receives = int(record.attributes.approximate_receive_count or 1)
    # A job deferred by the rate limit holds its slot and, for a retry, its attempt number.
    attributes = {name: value.string_value for name, value in record.message_attributes.items()}
    attempt, not_before = pacing.received(receives, attributes)
    context = lambda_context
    time_left = (lambda: context.get_remaining_time_in_millis() / 1000) if context is not None else None
    try:
        with pacing.batch_record():  # the batch's records of an instance share one slot reservation
            outcome = await deliver_message(record.body, attempt, time_left, not_before=not_before)
    except RetryLater as retry:
        # The schedule's delay, not the queue's visibility timeout, decides when SQS offers it again.
        await asyncio.to_thread(queue.delay_retry, record.receipt_handle, retry.delay)
        raise
    return outcome.status


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    require_settings("dispatcher")
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
