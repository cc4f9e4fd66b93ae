"""The API function: Open Connectors' management routes and Intercom's webhook intake.

Wiring only: each route authenticates, calls one logic function and shapes the answer.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, OpenAPI
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_events import json_body
from intercom_events.errors import BadRequest, DomainError
from intercom_events.logic import auth, backfill, events, instances, intake
from intercom_events.models.backfill import BackfillBody, BackfillStatus
from intercom_events.models.instance import CreateInstanceBody, InstanceAnswer, PatchInstanceBody
from intercom_events.observability import logger, metrics, tracer
from intercom_events.store import instances as instance_store

BASE = "/elements/api-v2"
TITLE = "Intercom Events (Open Connectors compatible)"


class _Resolver(APIGatewayHttpResolver):
    """Powertools' resolver, with an OpenAPI document (/openapi.json and /swagger both read this one)
    that lists the answers the routes really give: see `_document_answers`."""

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        document = (
            super().get_openapi_schema(**kwargs).model_dump(by_alias=True, exclude_none=True, mode="json")
        )
        return OpenAPI.model_validate(_document_answers(document))


# Bodies are read with limits (json_body): no depth, number or string a client sends can fail the parse.
app = _Resolver(enable_validation=True, json_body_deserializer=json_body.parse)
app.configure_openapi(
    title=TITLE,
    version="1.0.0",
    description="Connector instances for Intercom and their event callbacks, as Open Connectors serves them.",
    security_schemes={"OpenConnectors": APIKey(name="Authorization", in_=APIKeyIn.header)},
    security=[{"OpenConnectors": []}],
)
app.enable_swagger(path=f"{BASE}/swagger", title=TITLE)


# ---- answers ----------------------------------------------------------------------------------------


def _error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "requestId": app.current_event.request_context.request_id}
    if errors:
        body["errors"] = errors
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    return _error(exc.status, exc.message, exc.errors)


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    errors = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        errors.append({"field": ".".join(loc) or "body", "message": str(error.get("msg", "invalid"))})
    return _error(400, "Invalid request", errors)


# Bodies Powertools cannot read. It lets three of them through as errors of its own: a body that is not
# UTF-8 (API Gateway hands it over in Base64), one marked Base64 that is not, and a multipart body
# without a boundary.


@app.exception_handler(UnicodeDecodeError)
def _not_utf8(_: UnicodeDecodeError) -> Response:
    return _error(400, "Invalid request", [{"field": "body", "message": "not UTF-8 text"}])


@app.exception_handler(binascii.Error)
def _not_base64(_: binascii.Error) -> Response:
    # Powertools decodes a body marked isBase64Encoded before validation; text that is not Base64 is
    # the client's fault (a binascii.Error is a ValueError, which would otherwise count as a bug).
    return _error(400, "Invalid request", [{"field": "body", "message": "not Base64 as announced"}])


@app.exception_handler(RequestUnsupportedContentType)
def _not_json(_: Exception) -> Response:
    return _error(415, "Unsupported content type: send application/json")


@app.exception_handler(ValueError)
def _multipart_without_boundary(exc: ValueError) -> Response:
    if not app.current_event.headers.get("content-type", "").lower().startswith("multipart/"):
        return _unexpected(exc)  # any other ValueError is a bug
    return _not_json(exc)


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    return _error(exc.status_code, str(exc.msg))  # Powertools' own HTTP errors, in this API's body


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    """A bug, never a bad request (those are 4xx above): logged with its traceback, answered as every
    error is, so the caller has the requestId to quote. API Gateway's 5xx alarm counts it."""
    logger.error("unexpected error", exc_info=exc)
    return _error(500, "Internal error")


@app.not_found
def _not_found(_: Exception) -> Response:
    return _error(404, "No such route")


# Powertools documents every route as 200 plus a 422 for request validation. This API answers request
# validation with a 400, its domain errors with the same JSON body, and 202 where it accepts work for
# later. Most routes answer as an instance route does; the others are listed.
_ERROR_ANSWERS = {
    "400": "Invalid request; `errors` names each bad field",
    "401": "Missing or wrong authorization",
    "404": "No such instance, element or route",
    "409": "A backfill of this instance is running already",
    "410": "The instance was deleted",
    "415": "The body is not application/json",
}
_INSTANCE_ROUTE = ("200", ("400", "401", "404"))
_ANSWERS = {
    ("post", "/instances"): ("200", ("400", "401", "404", "415")),
    ("patch", "/instances/{instance_id}"): ("200", ("400", "401", "404", "415")),
    ("get", "/health"): ("200", ()),
    ("get", "/elements/intercom/oauth/url"): ("200", ("400", "401")),
    ("get", "/instances"): ("200", ("401",)),
    ("post", "/instances/{instance_id}/poll"): ("202", ("400", "401", "404")),
    ("post", "/instances/{instance_id}/backfill"): ("202", ("400", "401", "404", "409", "415")),
    ("post", "/instances/{instance_id}/events/retry"): ("202", ("400", "401", "404")),
    ("post", "/instances/{instance_id}/events/{event_id}/retry"): ("202", ("400", "401", "404")),
    ("head", "/events/intercom/{encoded_id}"): ("200", ("404", "410")),
    ("get", "/events/intercom/{encoded_id}"): ("200", ("404", "410")),
    ("post", "/events/intercom/{encoded_id}"): ("200", ("400", "401", "404", "410")),
}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["message", "requestId"],
    "properties": {
        "message": {"type": "string"},
        "requestId": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _document_answers(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["ErrorAnswer"] = _ERROR_SCHEMA
    error = {
        "content": {content_types.APPLICATION_JSON: {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}}
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            success, errors = _ANSWERS.get((method, path.removeprefix(BASE)), _INSTANCE_ROUTE)
            responses = operation["responses"]
            responses.pop("422", None)
            responses[success] = responses.pop("200")
            for status in errors:
                responses[status] = {"description": _ERROR_ANSWERS[status], **error}
    return document


def _api_base_url() -> str:
    """The public base URL as the caller reached us (API Gateway sets X-Forwarded-Proto)."""
    event = app.current_event
    scheme = event.headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    host = event.request_context.domain_name or event.headers.get("host", "localhost")
    return f"{scheme}://{host}{BASE}"


# Instance ids count up from 1, never beyond what every client (JavaScript's numbers too) holds exactly;
# a path beyond that names no instance and is a 400, whatever its digits.
InstanceId = Annotated[int, Path(ge=1, le=2**53 - 1)]


def _caller(allow_element: bool = True) -> auth.Caller:
    return auth.authenticate(app.current_event.headers.get("authorization"), allow_element=allow_element)


def _answer(instance: Any) -> dict[str, Any]:
    return instances.answer(instance, _api_base_url()).model_dump(exclude_none=True)


# ---- management -------------------------------------------------------------------------------------


@app.get(f"{BASE}/health", security=[{}], tags=["Operations"])
def health() -> dict[str, str]:
    instance_store.reachable()
    return {"status": "ok"}


@app.get(f"{BASE}/openapi.json", security=[{}], tags=["Operations"], include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(200, content_types.APPLICATION_JSON, app.get_openapi_json_schema(title=TITLE))


@app.get(f"{BASE}/elements/intercom/oauth/url", tags=["Instances"])
def oauth_url(
    apiKey: Annotated[str, Query(min_length=1)],
    callbackUrl: Annotated[str, Query(min_length=1)],
    apiSecret: Annotated[str | None, Query()] = None,  # accepted as Open Connectors does; never echoed
    state: Annotated[str | None, Query()] = None,
) -> dict[str, str]:
    _caller(allow_element=False)
    return {"element": "intercom", "oauthUrl": instances.consent_url(apiKey, callbackUrl, state)}


@app.post(f"{BASE}/instances", tags=["Instances"])
def create_instance(body: CreateInstanceBody) -> InstanceAnswer:
    return instances.create(_caller(allow_element=False), body, _api_base_url())


@app.get(f"{BASE}/instances", tags=["Instances"])
def list_instances() -> list[dict[str, Any]]:
    return [_answer(i) for i in instances.list_owned(_caller())]


@app.get(f"{BASE}/instances/<instance_id>", tags=["Instances"])
def get_instance(instance_id: InstanceId) -> dict[str, Any]:
    return _answer(instances.get_owned(_caller(), instance_id))


@app.patch(f"{BASE}/instances/<instance_id>", tags=["Instances"])
def patch_instance(instance_id: InstanceId, body: PatchInstanceBody) -> dict[str, Any]:
    return _answer(instances.patch(_caller(), instance_id, body))


@app.delete(f"{BASE}/instances/<instance_id>", tags=["Instances"])
def delete_instance(instance_id: InstanceId) -> dict[str, Any]:
    instances.delete(_caller(), instance_id)
    return {"id": instance_id, "deleted": True}


def _token_instance(caller: auth.Caller) -> int:
    if caller.instance_id is None:
        raise BadRequest("This route needs 'Element <instance token>' in the authorization header")
    return caller.instance_id


@app.put(f"{BASE}/instances/<instance_id>/enabled", tags=["Instances"])
def enable_instance(instance_id: InstanceId) -> dict[str, Any]:
    return _answer(instances.set_enabled(_caller(), instance_id, enabled=True))


@app.delete(f"{BASE}/instances/<instance_id>/enabled", tags=["Instances"])
def disable_instance(instance_id: InstanceId) -> dict[str, Any]:
    return _answer(instances.set_enabled(_caller(), instance_id, enabled=False))


@app.put(f"{BASE}/instances/enabled", tags=["Instances"])
def enable_token_instance() -> dict[str, Any]:
    caller = _caller()
    return _answer(instances.set_enabled(caller, _token_instance(caller), enabled=True))


@app.delete(f"{BASE}/instances/enabled", tags=["Instances"])
def disable_token_instance() -> dict[str, Any]:
    caller = _caller()
    return _answer(instances.set_enabled(caller, _token_instance(caller), enabled=False))


@app.post(f"{BASE}/instances/<instance_id>/poll", tags=["Polling"])
def poll_instance(instance_id: InstanceId) -> Response[dict[str, Any]]:
    instances.poll_now(_caller(), instance_id)
    return Response(202, content_types.APPLICATION_JSON, {"instanceId": instance_id, "status": "scheduled"})


@app.post(f"{BASE}/instances/<instance_id>/backfill", tags=["Polling"])
def start_backfill(instance_id: InstanceId, body: BackfillBody) -> Response[BackfillStatus]:
    """Read the instance's resources again from `since` and send each record's current version once,
    marked as a backfill; it runs beside the scheduled polls, starting within a minute."""
    status = backfill.start(_caller(), instance_id, body)
    return Response(202, content_types.APPLICATION_JSON, status)


@app.get(f"{BASE}/instances/<instance_id>/backfill", tags=["Polling"])
def get_backfill(instance_id: InstanceId) -> BackfillStatus:
    return backfill.get(_caller(), instance_id)


@app.delete(f"{BASE}/instances/<instance_id>/backfill", tags=["Polling"])
def cancel_backfill(instance_id: InstanceId) -> BackfillStatus:
    return backfill.cancel(_caller(), instance_id)


@app.get(f"{BASE}/instances/<instance_id>/events", tags=["Events"])
def list_events(
    instance_id: InstanceId,
    status: Annotated[
        str | None, Query(description="pending, delivered, retrying, failed, queued or cancelled")
    ] = None,
    from_: Annotated[str | None, Query(alias="from", description="ISO-8601: events from this date")] = None,
    to: Annotated[str | None, Query(description="ISO-8601: events up to this date")] = None,
    nextPage: Annotated[
        str | None, Query(description="the Elements-Next-Page-Token of the previous page")
    ] = None,
    pageSize: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response[list[dict[str, Any]]]:
    page, token = events.list_events(
        _caller(), instance_id, status=status, since=from_, until=to, next_page=nextPage, page_size=pageSize
    )
    # Open Connectors pages with this header; the body stays a plain array, as its clients expect.
    headers = {"Elements-Next-Page-Token": token} if token else None
    return Response(200, content_types.APPLICATION_JSON, page, headers=headers)


@app.post(f"{BASE}/instances/<instance_id>/events/retry", tags=["Events"])
def retry_events(instance_id: InstanceId) -> Response[dict[str, Any]]:
    return Response(202, content_types.APPLICATION_JSON, events.retry_all(_caller(), instance_id))


@app.post(f"{BASE}/instances/<instance_id>/events/<event_id>/retry", tags=["Events"])
def retry_event(instance_id: InstanceId, event_id: str) -> Response[dict[str, Any]]:
    return Response(202, content_types.APPLICATION_JSON, events.retry_one(_caller(), instance_id, event_id))


# ---- webhook intake ---------------------------------------------------------------------------------


@app.route(f"{BASE}/events/intercom/<encoded_id>", method=["HEAD", "GET"], security=[{}], tags=["Webhooks"])
def webhook_check(encoded_id: str) -> Response[str]:
    intake.check_url(encoded_id)
    return Response(200, content_types.TEXT_PLAIN, "")


@app.post(f"{BASE}/events/intercom/<encoded_id>", security=[{}], tags=["Webhooks"])
def webhook(encoded_id: str) -> dict[str, Any]:
    event = app.current_event
    result = intake.accept(encoded_id, _raw_body(), event.headers.get("x-hub-signature"))
    return {"status": result.outcome, "events": result.events}


def _raw_body() -> bytes:
    """The body's bytes as the sender signed them (API Gateway hands bodies that are not UTF-8 over in
    Base64); text that no bytes could have carried is a 400, not a failure."""
    event = app.current_event
    try:
        if event.is_base64_encoded:
            return base64.b64decode(event.body or "")
        return (event.body or "").encode()
    except (binascii.Error, UnicodeEncodeError):
        raise BadRequest("The body is neither text nor Base64") from None


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event holds the caller's Authorization
# header and, in a create or patch body, the instance's secrets.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True, log_event=False
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
