"""Fixtures of the integration tests that poll."""

from __future__ import annotations

from typing import Any

import pytest

TOKEN = "sample-access-token"  # the sample events' private app (events/api/create_instance_polling.json)


@pytest.fixture
def workspace(intercom: Any) -> Any:
    """The simulated Intercom's workspace, its token the sample events' one."""
    intercom.issue_token(token=TOKEN)
    return intercom.workspace
