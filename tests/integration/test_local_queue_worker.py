"""The emulated SQS event source mapping: batches in, successes deleted, reported failures kept."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from local.aws import LocalAws, MotoServer, create_resources
from local.queue_worker import QueueWorker


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer) -> LocalAws:
    return create_resources(moto_server.endpoint_url)


class Recorder:
    """A dispatcher stand-in: records events; fails the records whose body is in `fail`."""

    def __init__(self, aws: LocalAws, fail: set[str] | None = None, reappear_at_once: bool = True) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = fail or set()
        self.sqs = aws.client("sqs")
        self.queue_url = aws.queue_url
        self.reappear_at_once = reappear_at_once

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        failures = []
        for record in event["Records"]:
            if record["body"] in self.fail:
                failures.append({"itemIdentifier": record["messageId"]})
                if self.reappear_at_once:
                    # The dispatcher sets the visibility for its backoff; 0 brings it back now.
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                    )
        return {"batchItemFailures": failures}


def queue_counts(aws: LocalAws) -> tuple[int, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    visible, in_flight = "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
    return int(attributes[visible]), int(attributes[in_flight])


def send(aws: LocalAws, *bodies: str, **kwargs: Any) -> None:
    for body in bodies:
        aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=body, **kwargs)


def test_a_batch_arrives_as_lambdas_sqs_event(aws: LocalAws) -> None:
    handler = Recorder(aws)
    worker = QueueWorker(handler, aws.queue_url, endpoint_url=aws.endpoint_url)
    send(aws, "hello", MessageAttributes={"kind": {"DataType": "String", "StringValue": "webhook"}})

    result = worker.drain_once()

    [record] = handler.events[0]["Records"]
    assert result.message_ids == [record["messageId"]]
    assert record["body"] == "hello"
    assert record["receiptHandle"]
    assert record["md5OfBody"] == hashlib.md5(b"hello").hexdigest()  # noqa: S324 - SQS's checksum
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == aws.queue_arn
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["SentTimestamp"].isdigit()
    assert record["attributes"]["ApproximateFirstReceiveTimestamp"].isdigit()
    assert record["messageAttributes"]["kind"]["stringValue"] == "webhook"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"


def test_a_reported_failure_stays_and_the_success_is_deleted(aws: LocalAws) -> None:
    handler = Recorder(aws, fail={"bad"})
    worker = QueueWorker(handler, aws.queue_url, endpoint_url=aws.endpoint_url)
    send(aws, "good", "bad")

    first = worker.drain_once()
    second = worker.drain_once()

    assert sorted(r["body"] for r in handler.events[0]["Records"]) == ["bad", "good"]
    assert len(first.failed_ids) == 1
    assert len(first.deleted_ids) == 1
    [again] = handler.events[1]["Records"]
    assert again["body"] == "bad"
    assert again["messageId"] == first.failed_ids[0]
    assert again["attributes"]["ApproximateReceiveCount"] == "2"
    assert second.failed_ids == [again["messageId"]]


def test_a_message_that_succeeds_on_retry_leaves_the_queue(aws: LocalAws) -> None:
    handler = Recorder(aws, fail={"flaky"})
    worker = QueueWorker(handler, aws.queue_url, endpoint_url=aws.endpoint_url)
    send(aws, "flaky")
    worker.drain_once()

    handler.fail.clear()
    result = worker.drain_once()

    assert result.failed_ids == []
    assert queue_counts(aws) == (0, 0)


def test_a_function_error_keeps_the_whole_batch(aws: LocalAws) -> None:
    def crash(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("dispatcher crashed")

    worker = QueueWorker(crash, aws.queue_url, endpoint_url=aws.endpoint_url)
    send(aws, "one", "two")

    result = worker.drain_once()

    assert result.error == "function error"
    assert sorted(result.failed_ids) == sorted(result.message_ids)
    assert queue_counts(aws) == (0, 2)


def test_a_failure_naming_an_unknown_message_keeps_the_whole_batch(aws: LocalAws) -> None:
    worker = QueueWorker(
        lambda event, context: {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        aws.queue_url,
        endpoint_url=aws.endpoint_url,
    )
    send(aws, "one")

    result = worker.drain_once()

    assert result.error == "invalid batchItemFailures"
    assert queue_counts(aws) == (0, 1)


def test_an_empty_answer_deletes_the_batch(aws: LocalAws) -> None:
    worker = QueueWorker(lambda event, context: None, aws.queue_url, endpoint_url=aws.endpoint_url)
    send(aws, "one", "two")

    worker.drain_once()

    assert queue_counts(aws) == (0, 0)


def test_the_background_thread_drains_the_queue_until_stopped(aws: LocalAws) -> None:
    handler = Recorder(aws)
    worker = QueueWorker(handler, aws.queue_url, endpoint_url=aws.endpoint_url).start()
    try:
        send(aws, "a", "b", "c")
        for _ in range(50):
            if queue_counts(aws) == (0, 0) and sum(len(e["Records"]) for e in handler.events) == 3:
                break
            worker._stopping.wait(0.1)
    finally:
        worker.stop()

    assert sorted(r["body"] for e in handler.events for r in e["Records"]) == ["a", "b", "c"]
    assert queue_counts(aws) == (0, 0)


def test_drain_polls_until_nothing_is_visible(aws: LocalAws) -> None:
    handler = Recorder(aws)
    worker = QueueWorker(handler, aws.queue_url, endpoint_url=aws.endpoint_url, batch_size=2)
    send(aws, *[str(i) for i in range(5)])

    results = worker.drain()

    assert sum(len(r.message_ids) for r in results) == 5
    assert queue_counts(aws) == (0, 0)
