"""Fixtures of the integration tests: the dispatcher's queue, the polling ones, and the template as
CloudFormation reads it."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from local.queue_worker import QueueWorker, sqs_record
from tests.conftest import http_answer, invoke, load_event

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

TOKEN = "sample-access-token"  # the sample events' private app (events/api/create_instance_polling.json)


@pytest.fixture
def workspace(intercom: Any) -> Any:
    """The simulated Intercom's workspace, its token the sample events' one."""
    intercom.issue_token(token=TOKEN)
    return intercom.workspace


@pytest.fixture
def polling_instance(api, workspace) -> dict[str, Any]:
    """Instance 1 as the sample create event makes it: polling, on the workspace's token."""
    status, body = http_answer(api, load_event("api/create_instance_polling.json"))
    assert status == 200, body
    time.sleep(1.05)  # records changed from here on are newer than the instance (second precision)
    return body


def create_polling(api, poller_configuration: dict[str, Any] | None = None) -> int:
    """A polling instance (the sample event), optionally with its own `event.poller.configuration`;
    its creation second, once the clock has left it (records changed from then on are newer)."""
    event = load_event("api/create_instance_polling.json")
    if poller_configuration is not None:
        body = json.loads(event["body"])
        body["configuration"]["event.poller.configuration"] = poller_configuration
        event["body"] = json.dumps(body)
    status, answer = http_answer(api, event)
    assert status == 200, answer
    created = int(datetime.fromisoformat(answer["createdDate"]).timestamp())
    while time.time() < created + 1.05:
        time.sleep(0.05)
    return created


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml decoded here on its own, not through local/template.py, so a mistake there shows."""
    decoded, problems = decode_str(TEMPLATE.read_text())
    assert not problems, problems
    plain: dict[str, Any] = json.loads(json.dumps(decoded))
    return plain


@pytest.fixture
def instance(api, receiver) -> dict[str, Any]:
    """Instance 1 of the sample events (webhooks), its callbacks sent to the loopback receiver; modules
    that need another instance 1 define their own."""
    assert http_answer(api, load_event("api/create_instance_token.json"))[0] == 200
    patch = load_event("api/patch_instance.json")
    patch["body"] = json.dumps({"configuration": {"event.notification.callback.url": f"{receiver.url}/cb"}})
    status, body = http_answer(api, patch)
    assert status == 200, body
    return body


@pytest.fixture
def worker(dispatcher, aws) -> QueueWorker:
    """The callback queue drained into the dispatcher in this process, as its event source mapping would."""
    return QueueWorker(dispatcher.lambda_handler, aws.queue_url, endpoint_url=None, wait_seconds=0)  # type: ignore[arg-type]


def enqueue(aws, *jobs: dict[str, Any]) -> None:
    for job in jobs:
        aws.client("sqs").send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(job))


def attempt(aws, dispatcher) -> dict[str, Any]:
    """One delivery attempt, then the backoff skipped: the message is made visible again at once."""
    sqs = aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=aws.queue_url, AttributeNames=["All"])["Messages"]
    record = sqs_record(message, queue_arn=aws.queue_arn, region="us-east-1")
    answer: dict[str, Any] = invoke(dispatcher, {"Records": [record]}, "dispatcher")
    if answer["batchItemFailures"]:
        sqs.change_message_visibility(
            QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    else:
        sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return answer
