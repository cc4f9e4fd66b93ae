"""What every route module reads from the request: the event, the caller, the instance id in the path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, cast

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from ..logic import auth

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

BASE = "/elements/api-v2"  # Open Connectors' prefix: every route's path begins with it

# Instance ids count up from 1, never beyond what every client (JavaScript's numbers too) holds exactly;
# a path beyond that names no instance and is a 400, whatever its digits.
InstanceId = Annotated[int, Path(ge=1, le=2**53 - 1)]


def http_event(router: Router) -> APIGatewayProxyEventV2:
    """The event being answered: the function's resolver reads HTTP API (payload 2.0) events, which a
    Router's `current_event` types as any proxy event."""
    return cast("APIGatewayProxyEventV2", router.current_event)


def caller(router: Router, allow_element: bool = True) -> auth.Caller:
    return auth.authenticate(router.current_event.headers.get("authorization"), allow_element=allow_element)
