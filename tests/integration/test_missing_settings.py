"""A function deployed without a variable it needs fails its first invocation with a message naming
the variable, not botocore's parameter error later on; its module still imports (nothing fails at
import time)."""

from __future__ import annotations

from typing import Any

import pytest
from intercom_events.config import MissingSettings

from tests.conftest import DEV_ORGANIZATION_SECRET, DEV_USER_SECRET, invoke, load_event, load_handler

EVENTS = {
    "api": "api/health.json",
    "dispatcher": "dispatcher/batch.json",
    "poller": "poller/scheduled_poll.json",
}
# What each function cannot work without; a secret may come as its ARN (deployed) or itself (locally).
NEEDS = {
    "api": ["TABLE_NAME", "QUEUE_URL", "KMS_KEY_ID", "ORGANIZATION_SECRET", "USER_SECRET"],
    "dispatcher": ["TABLE_NAME", "QUEUE_URL", "KMS_KEY_ID"],
    "poller": ["TABLE_NAME", "QUEUE_URL", "KMS_KEY_ID", "SCHEDULE_GROUP_NAME"],
}


def _forget_settings() -> None:
    from intercom_events.config import settings

    settings.cache_clear()


@pytest.mark.parametrize(("function", "variable"), [(f, v) for f, names in NEEDS.items() for v in names])
def test_a_function_without_a_variable_it_needs_fails_naming_it(
    aws: Any, monkeypatch: pytest.MonkeyPatch, function: str, variable: str
) -> None:
    monkeypatch.delenv(variable)
    _forget_settings()
    with pytest.raises(MissingSettings) as failure:
        invoke(load_handler(function), load_event(EVENTS[function]), function)
    assert variable in str(failure.value)
    assert DEV_USER_SECRET not in str(failure.value)
    assert DEV_ORGANIZATION_SECRET not in str(failure.value)


def test_an_empty_variable_counts_as_missing(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_URL", "")
    _forget_settings()
    with pytest.raises(MissingSettings, match="QUEUE_URL"):
        invoke(load_handler("dispatcher"), load_event(EVENTS["dispatcher"]), "dispatcher")


def test_every_missing_variable_is_named_at_once(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("TABLE_NAME", "SCHEDULE_GROUP_NAME"):
        monkeypatch.delenv(variable)
    _forget_settings()
    with pytest.raises(MissingSettings) as failure:
        invoke(load_handler("poller"), load_event(EVENTS["poller"]), "poller")
    assert "TABLE_NAME" in str(failure.value)
    assert "SCHEDULE_GROUP_NAME" in str(failure.value)


def test_a_secrets_arn_stands_in_for_the_secret(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deployed, the secrets come from Secrets Manager: their ARNs are enough to start."""
    monkeypatch.delenv("ORGANIZATION_SECRET")
    monkeypatch.delenv("USER_SECRET")
    monkeypatch.setenv("ORGANIZATION_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:org")
    monkeypatch.setenv("USER_SECRETS_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:users")
    _forget_settings()
    answer = invoke(load_handler("api"), load_event(EVENTS["api"]), "api")
    assert answer["statusCode"] == 200


@pytest.mark.parametrize("function", sorted(NEEDS))
def test_a_handler_module_imports_without_any_setting(base_env: None, function: str) -> None:
    from local.stack import load_function

    assert callable(load_function(function, fresh=True).lambda_handler)
