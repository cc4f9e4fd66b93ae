"""Shared fixtures: the handlers loaded as Lambda loads them, AWS from moto, peers on loopback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

# Before any boto3 Session exists: moto hooks into the Sessions made after it is imported, and the
# clients' one Session (intercom_events.store.aws) outlives each test.
import moto  # noqa: F401
import pytest

# As on Lambda, Powertools reads these when the modules are first imported (at collection time here).
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "intercom-events")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "IntercomEvents")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
DEV_ORGANIZATION_SECRET = "dev-organization-secret"
DEV_USER_SECRET = "dev-user-secret"
OTHER_USER_SECRET = "other-user-secret"
AUTH = f"User {DEV_USER_SECRET}, Organization {DEV_ORGANIZATION_SECRET}"
OTHER_AUTH = f"User {OTHER_USER_SECRET}, Organization {DEV_ORGANIZATION_SECRET}"


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/, exactly as `sam local invoke -e` would read it."""
    return json.loads((EVENTS / name).read_text())


def too_deep_field(text: str, path: str) -> str:
    """Where a body nested past the limit is refused: at `path`, where the limit is crossed, or at `body`
    where Python's own JSON parser gives up first (near 1,000 levels on 3.11, far deeper on 3.13)."""
    try:
        json.loads(text)
    except RecursionError:
        return "body"
    return path


def load_handler(function: str) -> ModuleType:
    """functions/<function>/app.py, imported once per test process."""
    from local.stack import load_function  # after the Powertools variables above are set

    return load_function(function, fresh=False)


@pytest.fixture
def base_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "ORGANIZATION_SECRET": DEV_ORGANIZATION_SECRET,
        "USER_SECRET": json.dumps(
            [
                {"id": 1, "name": "developer", "secret": DEV_USER_SECRET},
                {"id": 2, "name": "other", "secret": OTHER_USER_SECRET},
            ]
        ),
        "CALLBACK_ALLOWED_HOSTS": "127.0.0.1,localhost,app.example.com",
        "ALLOW_HTTP_CALLBACKS": "true",
        "POWERTOOLS_SERVICE_NAME": "intercom-events",
        "POWERTOOLS_METRICS_NAMESPACE": "IntercomEvents",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "INSTANCE_CACHE_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("INTERCOM_API_BASE_URL", raising=False)
    _forget_process_state()
    yield
    _forget_process_state()


def _forget_process_state() -> None:
    from intercom_events.config import settings
    from intercom_events.logic import delivery, intake
    from intercom_events.store import aws

    settings.cache_clear()
    aws.reset()
    intake._instances.clear()
    delivery._instances.clear()


@pytest.fixture
def aws(base_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's in-process AWS with the template's table, queues and key."""
    from moto import mock_aws

    from local.aws import create_resources

    with mock_aws():
        resources = create_resources(None)  # type: ignore[arg-type]  # no endpoint: moto intercepts
        for name, value in resources.environment().items():
            if name != "AWS_ENDPOINT_URL":
                monkeypatch.setenv(name, value)
        _forget_process_state()
        yield resources


@pytest.fixture
def api(aws: Any) -> ModuleType:
    return load_handler("api")


@pytest.fixture
def dispatcher(aws: Any) -> ModuleType:
    return load_handler("dispatcher")


@pytest.fixture
def poller(aws: Any) -> ModuleType:
    return load_handler("poller")


@pytest.fixture
def receiver() -> Iterator[Any]:
    from local.receiver import CallbackReceiver

    server = CallbackReceiver()
    server.start()
    yield server
    server.stop()


def run_python(code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 90) -> list[str]:
    """`code` in a new process of this interpreter, from the repository's root (a new Lambda sandbox:
    nothing imported yet): its stdout's lines, once it has exited cleanly."""
    import subprocess
    import sys

    run = subprocess.run(  # noqa: S603 - this interpreter, on this repository's code
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.splitlines()


def invoke(module: ModuleType, event: dict[str, Any], function: str = "test") -> Any:
    """Invoke a handler as the Lambda runtime would: event and answer through JSON, a real context."""
    from local.lambda_runtime import LocalFunction

    return LocalFunction(function, module.lambda_handler).invoke(event)


def http_answer(module: ModuleType, event: dict[str, Any]) -> tuple[int, Any]:
    answer = invoke(module, event, "api")
    body = answer.get("body") or ""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = body
    return answer["statusCode"], parsed


@pytest.fixture
def intercom(base_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The simulated Intercom on loopback, knowing the sample events' app and code."""
    from intercom_events.config import settings

    from local.intercom import SimulatedIntercom

    server = SimulatedIntercom()
    server.start()
    server.register_app("sample-client-id", "sample-client-secret")
    server.authorize("sample-client-id", code="sample-oauth-code")
    monkeypatch.setenv("INTERCOM_API_BASE_URL", server.url)
    settings.cache_clear()
    yield server
    server.stop()


def callback_job(notification_id: str, instance_id: int = 1, object_id: str = "c1") -> dict[str, Any]:
    """A webhook's callback job for one contact update, as intake puts it on the queue."""
    from datetime import UTC, datetime

    from intercom_events.logic.jobs import make_jobs
    from intercom_events.models.events import EventType, NormalizedEvent

    event = NormalizedEvent(
        date="2026-11-27T10:00:00Z", eventType=EventType.UPDATED, objectId=object_id, objectType="contacts"
    )
    raw = {"type": "notification_event", "id": notification_id, "topic": "contact.user.updated"}
    [job] = make_jobs(
        instance_id, "webhook", notification_id, raw, [event], datetime.now(UTC), notification_id
    )
    return json.loads(job.model_dump_json(exclude_none=True))
