"""One EventBridge Scheduler schedule per polling instance, `rate(<n> minutes)`, targeting the poller.

Scheduler holds 10 million schedules a Region by default (docs/capacity.md), where scheduled rules stop
at 300 a bus. The schedule group, the poller's ARN, the role Scheduler assumes and the dead-letter
queue for failed invocations come from the template through the environment. A backfill has a schedule
of its own, every minute while it runs (logic/backfill.py).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from ..config import settings
from ..observability import tracer
from .aws import client


def _deployment() -> dict[str, str]:
    deployment = settings()
    return {
        "group": deployment.schedule_group_name,
        "target": deployment.poller_function_arn,
        "role": deployment.scheduler_role_arn,
        "dlq": deployment.schedule_dlq_arn,
    }


def _name(instance_id: int) -> str:
    return f"instance-{instance_id}"


def _target(instance_id: int, deployment: dict[str, str], backfill: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"instanceId": instance_id}
    if backfill is not None:
        event["backfill"] = backfill
    target: dict[str, Any] = {
        "Arn": deployment["target"],
        "RoleArn": deployment["role"],
        "Input": json.dumps(event),
        # A missed poll is made good by the next one (cursors cover the gap): a few retries suffice.
        "RetryPolicy": {"MaximumEventAgeInSeconds": 300, "MaximumRetryAttempts": 3},
    }
    if deployment["dlq"]:
        target["DeadLetterConfig"] = {"Arn": deployment["dlq"]}
    return target


@tracer.capture_method(capture_response=False)
def put(instance_id: int, minutes: int, enabled: bool) -> None:
    """Create the schedule, or change its rate or state: one call either way."""
    deployment = _deployment()
    request = {
        "Name": _name(instance_id),
        "GroupName": deployment["group"],
        "ScheduleExpression": f"rate({minutes} {'minute' if minutes == 1 else 'minutes'})",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": _target(instance_id, deployment),
        "State": "ENABLED" if enabled else "DISABLED",
    }
    _put(request)


def _put(request: dict[str, Any]) -> None:
    """Create the schedule, or change it: one call either way once it exists."""
    scheduler = client("scheduler")
    try:
        scheduler.update_schedule(**request)
    except scheduler.exceptions.ResourceNotFoundException:
        scheduler.create_schedule(**request)


@tracer.capture_method(capture_response=False)
def remove(instance_id: int) -> None:
    scheduler = client("scheduler")
    with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
        scheduler.delete_schedule(Name=_name(instance_id), GroupName=_deployment()["group"])


@tracer.capture_method(capture_response=False)
def poll_now(instance_id: int, now: datetime) -> None:
    """A one-time schedule that fires at once and deletes itself: no Lambda invoke right on the API role."""
    deployment = _deployment()
    stamp = now.astimezone(UTC)
    client("scheduler").create_schedule(
        Name=f"{_name(instance_id)}-now-{stamp.strftime('%Y%m%d%H%M%S%f')}",
        GroupName=deployment["group"],
        ScheduleExpression=f"at({stamp.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone="UTC",
        ActionAfterCompletion="DELETE",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=_target(instance_id, deployment),
        State="ENABLED",
    )


def _backfill_name(instance_id: int) -> str:
    return f"{_name(instance_id)}-backfill"


@tracer.capture_method(capture_response=False)
def put_backfill(instance_id: int, run_id: str) -> None:
    """Every minute until the backfill ends (the poller then deletes it): a run that stops for time, or
    is lost, is taken up again within a minute; a run still going makes the next one `busy` at once."""
    deployment = _deployment()
    request = {
        "Name": _backfill_name(instance_id),
        "GroupName": deployment["group"],
        "ScheduleExpression": "rate(1 minute)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": _target(instance_id, deployment, backfill=run_id),
        "State": "ENABLED",
    }
    _put(request)


@tracer.capture_method(capture_response=False)
def remove_backfill(instance_id: int) -> None:
    scheduler = client("scheduler")
    with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
        scheduler.delete_schedule(Name=_backfill_name(instance_id), GroupName=_deployment()["group"])
