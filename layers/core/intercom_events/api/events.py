"""Events: an instance's event log, one event with its attempts, and replays of what it failed to deliver."""

from __future__ import annotations

from typing import Annotated, get_args

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ..logic import events
from ..models.answers import EventDetail, EventLogEntry, EventRetriedAnswer, EventsRetriedAnswer
from ..models.events import DeliveryStatus
from .common import InstanceId, caller
from .errors import errors

router = Router()
TAGS = ["Events"]


@router.get(
    "/instances/<instance_id>/events",
    tags=TAGS,
    responses={
        200: {
            "description": "A page of the log, newest first",
            "headers": {
                "Elements-Next-Page-Token": {
                    "description": "the next page's nextPage; absent on the last page",
                    "schema": {"type": "string"},
                }
            },
        },
        **errors(400, 401, 404),
    },
)
def list_events(
    instance_id: InstanceId,
    status: Annotated[str | None, Query(description=", ".join(get_args(DeliveryStatus)))] = None,
    from_: Annotated[str | None, Query(alias="from", description="ISO-8601: events from this date")] = None,
    to: Annotated[str | None, Query(description="ISO-8601: events up to this date")] = None,
    nextPage: Annotated[
        str | None, Query(description="the Elements-Next-Page-Token of the previous page")
    ] = None,
    pageSize: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response[list[EventLogEntry]]:
    page, token = events.list_events(
        caller(router),
        instance_id,
        status=status,
        since=from_,
        until=to,
        next_page=nextPage,
        page_size=pageSize,
    )
    # Open Connectors pages with this header; the body stays a plain array, as its clients expect.
    headers = {"Elements-Next-Page-Token": token} if token else None
    entries = [EventLogEntry.model_validate(entry) for entry in page]
    return Response(200, content_types.APPLICATION_JSON, entries, headers=headers)


@router.get(
    "/instances/<instance_id>/events/<event_id>",
    tags=TAGS,
    responses={
        200: {"description": "The event, its callback as sent, and its last attempts, oldest first"},
        **errors(400, 401, 404),
    },
)
def get_event(instance_id: InstanceId, event_id: str) -> EventDetail:
    return EventDetail.model_validate(events.event_detail(caller(router), instance_id, event_id))


@router.post(
    "/instances/<instance_id>/events/retry",
    tags=TAGS,
    status_code=202,
    responses={
        202: {"description": "Failed and queued events sent again, oldest first"},
        **errors(400, 401, 404),
    },
)
def retry_events(instance_id: InstanceId) -> EventsRetriedAnswer:
    return EventsRetriedAnswer.model_validate(events.retry_all(caller(router), instance_id))


@router.post(
    "/instances/<instance_id>/events/<event_id>/retry",
    tags=TAGS,
    status_code=202,
    responses={
        202: {"description": "The event is sent again, with the same eventId"},
        **errors(400, 401, 404),
    },
)
def retry_event(instance_id: InstanceId, event_id: str) -> EventRetriedAnswer:
    return EventRetriedAnswer.model_validate(events.retry_one(caller(router), instance_id, event_id))
