"""Deployment settings: one pydantic model read from the environment once, lazily.

Nothing here runs at import time: each handler calls `require_settings` first, so a variable its
function cannot work without fails the first invocation with a message naming it, instead of an
import error or botocore's complaint about an empty parameter somewhere later.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field, field_validator

DEFAULT_INTERCOM_VERSION = "2.15"

# What each function cannot work without (template.yaml gives each of them these); a group of names is
# one setting under alternative names, of which one is enough (a secret's ARN deployed, the secret
# itself locally).
_TABLE_QUEUE_KEY: tuple[tuple[str, ...], ...] = (("TABLE_NAME",), ("QUEUE_URL",), ("KMS_KEY_ID",))
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "api": (
        *_TABLE_QUEUE_KEY,
        ("ORGANIZATION_SECRET_ARN", "ORGANIZATION_SECRET"),
        ("USER_SECRETS_ARN", "USER_SECRET"),
    ),
    "dispatcher": _TABLE_QUEUE_KEY,
    "poller": (*_TABLE_QUEUE_KEY, ("SCHEDULE_GROUP_NAME",)),
}


class MissingSettings(RuntimeError):
    """A function started without a variable it cannot work without: a deployment fault, not a bug."""


class Settings(BaseModel):
    table_name: str = Field(default="", alias="TABLE_NAME")
    queue_url: str = Field(default="", alias="QUEUE_URL")
    kms_key_id: str = Field(default="", alias="KMS_KEY_ID")
    # Deployed: Secrets Manager ARNs read through Powertools Parameters.
    organization_secret_arn: str = Field(default="", alias="ORGANIZATION_SECRET_ARN")
    user_secrets_arn: str = Field(default="", alias="USER_SECRETS_ARN")
    # Local: the secrets themselves (development defaults documented in the README).
    organization_secret: str = Field(default="", alias="ORGANIZATION_SECRET")
    user_secret: str = Field(default="", alias="USER_SECRET")
    # Points every instance at another Intercom (a simulated one locally and in tests).
    intercom_api_base_url: str = Field(default="", alias="INTERCOM_API_BASE_URL")
    intercom_api_version: str = Field(default=DEFAULT_INTERCOM_VERSION, alias="INTERCOM_API_VERSION")
    # Hosts a callback may reach although they resolve to non-public addresses (local runs, tests).
    callback_allowed_hosts: frozenset[str] = Field(default=frozenset(), alias="CALLBACK_ALLOWED_HOSTS")
    allow_http_callbacks: bool = Field(default=False, alias="ALLOW_HTTP_CALLBACKS")
    # Polling: the schedule group, the poller Scheduler targets, the role it assumes, its dead-letter queue.
    schedule_group_name: str = Field(default="", alias="SCHEDULE_GROUP_NAME")
    poller_function_arn: str = Field(default="", alias="POLLER_FUNCTION_ARN")
    scheduler_role_arn: str = Field(default="", alias="SCHEDULER_ROLE_ARN")
    schedule_dlq_arn: str = Field(default="", alias="SCHEDULE_DLQ_ARN")
    # Callback jobs larger than one SQS message are kept here and the message carries a pointer.
    body_bucket_name: str = Field(default="", alias="BODY_BUCKET_NAME")
    # The stack's EventBridge bus for operational events (store/bus.py); unset, they are only logged.
    event_bus_name: str = Field(default="", alias="EVENT_BUS_NAME")
    instance_cache_seconds: float = Field(default=5.0, alias="INSTANCE_CACHE_SECONDS")
    # One deadline for all of a callback; keep it and the dispatcher's timeout in step (template.yaml).
    callback_timeout_seconds: float = Field(default=15.0, gt=0, alias="CALLBACK_TIMEOUT_SECONDS")
    secrets_cache_seconds: int = Field(default=300, alias="SECRETS_CACHE_SECONDS")

    @field_validator("callback_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(h.strip().lower() for h in value.split(",") if h.strip())
        return value


@lru_cache(maxsize=1)
def settings() -> Settings:
    # An empty variable means "not set" (the template declares some empty for `sam local invoke`).
    return Settings.model_validate({k: v for k, v in os.environ.items() if k.isupper() and v != ""})


# Environment variable -> field, once: require_settings runs at every invocation.
_FIELDS = {field.alias: name for name, field in Settings.model_fields.items()}


def require_settings(function: str) -> Settings:
    """The settings, once every variable `function` needs (REQUIRED) is set; MissingSettings names the
    ones that are not (names only: a value could be a secret)."""
    deployment = settings()
    missing = [
        " or ".join(names)
        for names in REQUIRED[function]
        if not any(getattr(deployment, _FIELDS[name]) for name in names)
    ]
    if missing:
        raise MissingSettings(f"The {function} function needs {', '.join(missing)} set in its environment")
    return deployment
