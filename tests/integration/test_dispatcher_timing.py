"""The dispatcher's timeouts agree (template.yaml, DispatcherFunction): a batch never runs into the
function's timeout, so one slow receiver never hands its batch's delivered callbacks back to the queue."""

from __future__ import annotations

from typing import Any

import pytest
from intercom_events.logic.delivery import LOG_RESERVE_SECONDS, MIN_DEADLINE_SECONDS

from tests.integration.test_template import template  # noqa: F401 - the fixture


@pytest.fixture
def dispatcher_timeout(template: dict[str, Any]) -> int:  # noqa: F811
    [function] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
        and r["Properties"].get("CodeUri") == "functions/dispatcher/"
    ]
    return int(function["Timeout"])


def test_a_callback_and_its_log_writes_fit_in_the_dispatchers_timeout(
    template: dict[str, Any],  # noqa: F811
    dispatcher_timeout: int,
) -> None:
    deadline = float(template["Globals"]["Function"]["Environment"]["Variables"]["CALLBACK_TIMEOUT_SECONDS"])
    # The rest of the timeout is for reading the instance and claiming the event before the callback.
    assert deadline >= MIN_DEADLINE_SECONDS
    assert deadline + LOG_RESERVE_SECONDS < dispatcher_timeout
