"""LocalStack wires moto, the API, the queue worker, the scheduler, Intercom and receivers, with stand-in
handlers."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.stack import LocalStack


class Dispatcher:
    """A dispatcher stand-in: records the bodies it is handed."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.arrived = threading.Event()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.bodies.extend(record["body"] for record in event["Records"])
        self.arrived.set()
        return {"batchItemFailures": []}


class Poller:
    """A poller stand-in: records the events its schedules hand it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.arrived = threading.Event()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.arrived.set()
        return {}


def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Reads the settings as the real handler does, so the test sees what the functions see.
    from intercom_events.config import settings

    return {"statusCode": 200, "body": settings().table_name}


@pytest.fixture
def dispatcher() -> Dispatcher:
    return Dispatcher()


@pytest.fixture
def poller() -> Poller:
    return Poller()


@pytest.fixture
def stack(dispatcher: Dispatcher, poller: Poller, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("AWS_PROFILE", "someone-elses-account")
    monkeypatch.delenv("ORGANIZATION_SECRET", raising=False)
    with LocalStack(
        api_port=0,
        api_handler=api,
        dispatcher_handler=dispatcher,
        poller_handler=poller,
        environment={"CALLBACK_ALLOWED_HOSTS": "receiver.test"},
    ) as running:
        yield running


def test_the_api_is_served_under_the_base_path(stack: LocalStack) -> None:
    assert stack.api_url.startswith("http://127.0.0.1:")
    assert stack.api_url.endswith("/elements/api-v2")

    response = httpx.get(f"{stack.api_url}/health")

    assert response.status_code == 200


def test_the_functions_settings_point_at_the_embedded_aws(stack: LocalStack) -> None:
    response = httpx.get(f"{stack.api_url}/health")

    assert response.text == stack.aws.table_name
    assert os.environ["AWS_ENDPOINT_URL"] == stack.aws.endpoint_url
    assert os.environ["QUEUE_URL"] == stack.aws.queue_url
    assert "AWS_PROFILE" not in os.environ


def test_the_environment_has_local_defaults_and_overrides(stack: LocalStack) -> None:
    assert stack.environment["ORGANIZATION_SECRET"] == "dev-organization-secret"
    assert stack.environment["ALLOW_HTTP_CALLBACKS"] == "true"
    assert stack.environment["CALLBACK_ALLOWED_HOSTS"] == "receiver.test"
    assert stack.environment["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert stack.intercom_base_url == stack.intercom.url


def test_messages_on_the_queue_reach_the_dispatcher(stack: LocalStack, dispatcher: Dispatcher) -> None:
    stack.aws.client("sqs").send_message(QueueUrl=stack.aws.queue_url, MessageBody='{"job": 1}')

    assert dispatcher.arrived.wait(10)
    assert dispatcher.bodies == ['{"job": 1}']


def test_a_schedule_made_as_the_api_makes_it_reaches_the_poller(stack: LocalStack, poller: Poller) -> None:
    from datetime import UTC, datetime

    from intercom_events.store import schedules

    assert stack.scheduler.running
    assert stack.environment["SCHEDULE_GROUP_NAME"] == stack.aws.schedule_group_name
    assert stack.environment["POLLER_FUNCTION_ARN"] == stack.aws.poller_function_arn

    schedules.poll_now(12, datetime.now(UTC))

    assert poller.arrived.wait(10)
    assert poller.events == [{"instanceId": 12}]


def test_receivers_are_made_on_free_ports(stack: LocalStack) -> None:
    first, second = stack.receiver(), stack.receiver()

    httpx.post(f"{first.url}/cb", content=b"{}")

    assert first.port != second.port
    assert len(first.wait_for(1)) == 1


def test_stop_restores_the_environment_and_stops_the_servers(
    dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-elses-account")
    monkeypatch.delenv("TABLE_NAME", raising=False)
    monkeypatch.setenv("LOCAL_API_PORT", "0")
    stack = LocalStack(api_handler=api, dispatcher_handler=dispatcher, poller_handler=Poller()).start()
    api_url, receiver_url = stack.api_url, stack.receiver().url

    stack.stop()

    assert not stack.scheduler.running
    assert os.environ["AWS_PROFILE"] == "someone-elses-account"
    assert "TABLE_NAME" not in os.environ
    for url in (api_url, receiver_url):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)


def test_intercom_base_url_comes_from_the_environment_when_set(
    dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERCOM_API_BASE_URL", "http://127.0.0.1:9/intercom")

    with LocalStack(api_port=0, api_handler=api, dispatcher_handler=dispatcher) as stack:
        assert stack.intercom_base_url == "http://127.0.0.1:9/intercom"


def test_a_missing_function_file_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import local.stack as stack_module

    monkeypatch.setattr(stack_module, "API_FUNCTION_PATH", stack_module.REPO_ROOT / "functions/none/app.py")

    with pytest.raises(FileNotFoundError, match="does not exist yet"):
        LocalStack(api_port=0).start()


def function_environment_from(environ: dict[str, str]) -> dict[str, str]:
    from local.aws import LocalAws
    from local.stack import function_environment

    aws = LocalAws(*(["x"] * 14))
    return function_environment(aws, "http://127.0.0.1:9", environ=environ)


def test_an_empty_callback_allow_list_is_kept_empty_and_an_unset_one_is_loopback() -> None:
    assert function_environment_from({"CALLBACK_ALLOWED_HOSTS": ""})["CALLBACK_ALLOWED_HOSTS"] == ""
    assert function_environment_from({})["CALLBACK_ALLOWED_HOSTS"] == "127.0.0.1,localhost,::1"


def test_allow_http_callbacks_comes_from_the_environment_and_is_true_unless_set() -> None:
    assert function_environment_from({"ALLOW_HTTP_CALLBACKS": "false"})["ALLOW_HTTP_CALLBACKS"] == "false"
    assert function_environment_from({})["ALLOW_HTTP_CALLBACKS"] == "true"
    assert function_environment_from({"ALLOW_HTTP_CALLBACKS": ""})["ALLOW_HTTP_CALLBACKS"] == "true"
