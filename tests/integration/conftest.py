"""Fixtures of the integration tests that poll."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import http_answer, load_event

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
