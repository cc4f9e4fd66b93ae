"""The local moto server keeps SQS's fair-queue promise (local/fair_queue.py): a group holding a
disproportionate share of the messages in flight waits behind the other groups' messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.aws import MotoServer, aws_client


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = MotoServer().start()
    yield server.endpoint_url
    server.stop()


@pytest.fixture
def sqs(endpoint: str) -> Any:
    return aws_client("sqs", endpoint)


def queue(sqs: Any, name: str, **attributes: str) -> str:
    return str(
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60", **attributes})["QueueUrl"]
    )


def send(sqs: Any, url: str, group: str | None, count: int) -> None:
    for start in range(0, count, 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": f"{group}-{start + i}",
                **({"MessageGroupId": group} if group else {}),
            }
            for i in range(min(10, count - start))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def receive(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, count - len(messages)))
        if not got.get("Messages"):
            break
        messages += got["Messages"]
    return messages


def groups(messages: list[dict[str, Any]]) -> list[str]:
    return [m["Body"].split("-")[0] for m in messages]


def test_a_group_with_many_messages_in_flight_waits_behind_a_quiet_one(sqs):
    url = queue(sqs, "fair-noisy")
    send(sqs, url, "noisy", 80)
    assert groups(receive(sqs, url, 40)) == ["noisy"] * 40  # in flight: 40 of 40, past 30 and 10 %
    send(sqs, url, "quiet", 5)  # sent after the noisy group's other 40

    assert groups(receive(sqs, url, 10)) == ["quiet"] * 5 + ["noisy"] * 5


def test_a_group_is_noisy_from_thirty_in_flight(sqs):
    url = queue(sqs, "fair-below")
    send(sqs, url, "busy", 40)
    receive(sqs, url, 29)
    send(sqs, url, "other", 3)

    assert groups(receive(sqs, url, 10)) == ["busy"] * 10  # 29 in flight when asked: not yet noisy
    assert groups(receive(sqs, url, 3)) == ["other"] * 3  # 39 now


def test_a_noisy_group_is_quiet_again_once_its_backlog_is_drained(sqs):
    url = queue(sqs, "fair-drained")
    send(sqs, url, "noisy", 40)
    in_flight = receive(sqs, url, 30)
    send(sqs, url, "quiet", 2)
    assert groups(receive(sqs, url, 2)) == ["quiet"] * 2
    receive(sqs, url, 10)  # its backlog drained while its 30 are still in flight
    for message in in_flight:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    send(sqs, url, "noisy", 1)
    send(sqs, url, "quiet", 1)

    assert groups(receive(sqs, url, 2)) == ["noisy", "quiet"]  # the order sent, no one flagged


def test_messages_without_a_group_and_fifo_queues_keep_the_order_sent(sqs):
    url = queue(sqs, "fair-ungrouped")
    send(sqs, url, None, 40)
    receive(sqs, url, 40)
    send(sqs, url, "late", 1)
    assert groups(receive(sqs, url, 1)) == ["late"]

    fifo = queue(sqs, "fair.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    for number in range(3):
        sqs.send_message(QueueUrl=fifo, MessageBody=f"a-{number}", MessageGroupId=f"g{number}")
    assert groups(receive(sqs, fifo, 3)) == ["a", "a", "a"]


def test_a_group_stays_noisy_after_its_messages_in_flight_come_back_while_its_backlog_waits(sqs):
    url = queue(sqs, "fair-sticky")
    send(sqs, url, "noisy", 80)
    # Every consumer busy with it, then all its messages retried at once: none in flight any more, but
    # its backlog still waits, so it stays noisy.
    for message in receive(sqs, url, 30):
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    send(sqs, url, "quiet", 3)

    assert groups(receive(sqs, url, 4)) == ["quiet"] * 3 + ["noisy"]
