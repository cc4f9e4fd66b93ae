"""Polling: a poll now rather than at the next scheduled one, and backfills (a poll of the past)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler.api_gateway import Router

from ..logic import backfill, instances
from ..models.answers import PollScheduledAnswer
from ..models.backfill import BackfillBody, BackfillStatus
from .common import InstanceId, caller
from .errors import errors

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

router = Router()
TAGS = ["Polling"]
_BACKFILL: dict[int, OpenAPIResponse] = {
    200: {"description": "The instance's last backfill"},
    **errors(400, 401, 404),
}


@router.post(
    "/instances/<instance_id>/poll",
    tags=TAGS,
    status_code=202,
    responses={202: {"description": "A poll starts within a minute"}, **errors(400, 401, 404)},
)
def poll_instance(instance_id: InstanceId) -> PollScheduledAnswer:
    instances.poll_now(caller(router), instance_id)
    return PollScheduledAnswer(instanceId=instance_id, status="scheduled")


@router.post(
    "/instances/<instance_id>/backfill",
    tags=TAGS,
    status_code=202,
    responses={202: {"description": "The backfill, running"}, **errors(400, 401, 404, 409, 415)},
)
def start_backfill(instance_id: InstanceId, body: BackfillBody) -> BackfillStatus:
    """Read the instance's resources again from `since` and send each record's current version once,
    marked as a backfill; it runs beside the scheduled polls, starting within a minute."""
    return backfill.start(caller(router), instance_id, body)


@router.get("/instances/<instance_id>/backfill", tags=TAGS, responses=_BACKFILL)
def get_backfill(instance_id: InstanceId) -> BackfillStatus:
    return backfill.get(caller(router), instance_id)


@router.delete("/instances/<instance_id>/backfill", tags=TAGS, responses=_BACKFILL)
def cancel_backfill(instance_id: InstanceId) -> BackfillStatus:
    return backfill.cancel(caller(router), instance_id)
