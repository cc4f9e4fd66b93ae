"""Instances: Open Connectors' instance routes, and the OAuth consent URL a create needs first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from ..errors import BadRequest
from ..logic import auth, instances
from ..models.answers import InstanceDeletedAnswer, OAuthUrlAnswer
from ..models.instance import CreateInstanceBody, Instance, InstanceAnswer, PatchInstanceBody
from .common import BASE, InstanceId, caller, http_event
from .errors import errors

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

router = Router()
TAGS = ["Instances"]


def _api_base_url() -> str:
    """The public base URL as the caller reached us (API Gateway sets X-Forwarded-Proto)."""
    event = http_event(router)
    scheme = event.headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    host = event.request_context.domain_name or event.headers.get("host", "localhost")
    return f"{scheme}://{host}{BASE}"


def _answer(instance: Instance) -> InstanceAnswer:
    return instances.answer(instance, _api_base_url())


def _token_instance(who: auth.Caller) -> int:
    if who.instance_id is None:
        raise BadRequest("This route needs 'Element <instance token>' in the authorization header")
    return who.instance_id


@router.get(
    "/elements/intercom/oauth/url",
    tags=TAGS,
    responses={200: {"description": "Intercom's consent page for the app"}, **errors(400, 401)},
)
def oauth_url(
    apiKey: Annotated[str, Query(min_length=1)],
    callbackUrl: Annotated[str, Query(min_length=1)],
    apiSecret: Annotated[str | None, Query()] = None,  # accepted as Open Connectors does; never echoed
    state: Annotated[str | None, Query()] = None,
) -> OAuthUrlAnswer:
    caller(router, allow_element=False)
    return OAuthUrlAnswer(element="intercom", oauthUrl=instances.consent_url(apiKey, callbackUrl, state))


@router.post(
    "/instances",
    tags=TAGS,
    responses={
        200: {"description": "The new instance, with its token (shown this once)"},
        **errors(400, 401, 404, 415),
    },
)
def create_instance(body: CreateInstanceBody) -> InstanceAnswer:
    return instances.create(caller(router, allow_element=False), body, _api_base_url())


@router.get(
    "/instances",
    tags=TAGS,
    responses={200: {"description": "The caller's instances (one, for an Element token)"}, **errors(401)},
)
def list_instances() -> list[InstanceAnswer]:
    return [_answer(i) for i in instances.list_owned(caller(router))]


_INSTANCE: dict[int, OpenAPIResponse] = {200: {"description": "The instance"}, **errors(400, 401, 404)}


@router.get("/instances/<instance_id>", tags=TAGS, responses=_INSTANCE)
def get_instance(instance_id: InstanceId) -> InstanceAnswer:
    return _answer(instances.get_owned(caller(router), instance_id))


@router.patch(
    "/instances/<instance_id>",
    tags=TAGS,
    responses={200: {"description": "The instance as changed"}, **errors(400, 401, 404, 415)},
)
def patch_instance(instance_id: InstanceId, body: PatchInstanceBody) -> InstanceAnswer:
    return _answer(instances.patch(caller(router), instance_id, body))


@router.delete(
    "/instances/<instance_id>",
    tags=TAGS,
    responses={
        200: {"description": "Deleted: its webhook URL answers 410 from now on"},
        **errors(400, 401, 404),
    },
)
def delete_instance(instance_id: InstanceId) -> InstanceDeletedAnswer:
    instances.delete(caller(router), instance_id)
    return InstanceDeletedAnswer(id=instance_id, deleted=True)


@router.put("/instances/<instance_id>/enabled", tags=TAGS, responses=_INSTANCE)
def enable_instance(instance_id: InstanceId) -> InstanceAnswer:
    return _answer(instances.set_enabled(caller(router), instance_id, enabled=True))


@router.delete("/instances/<instance_id>/enabled", tags=TAGS, responses=_INSTANCE)
def disable_instance(instance_id: InstanceId) -> InstanceAnswer:
    return _answer(instances.set_enabled(caller(router), instance_id, enabled=False))


# The same, for the instance whose token the authorization header carries.


@router.put("/instances/enabled", tags=TAGS, responses=_INSTANCE)
def enable_token_instance() -> InstanceAnswer:
    who = caller(router)
    return _answer(instances.set_enabled(who, _token_instance(who), enabled=True))


@router.delete("/instances/enabled", tags=TAGS, responses=_INSTANCE)
def disable_token_instance() -> InstanceAnswer:
    who = caller(router)
    return _answer(instances.set_enabled(who, _token_instance(who), enabled=False))
