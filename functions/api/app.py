"""The API function: Open Connectors' management routes and Intercom's webhook intake.

Wiring only: each route authenticates, calls one logic function and shapes the answer.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_events.errors import BadRequest, DomainError
from intercom_events.logic import auth, events, instances, intake
from intercom_events.models.instance import CreateInstanceBody, InstanceAnswer, PatchInstanceBody
from intercom_events.observability import logger, metrics, tracer
from intercom_events.store import instances as instance_store

BASE = "/elements/api-v2"
TITLE = "Intercom Events (Open Connectors compatible)"

app = APIGatewayHttpResolver(enable_validation=True)
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


@app.not_found
def _not_found(_: Exception) -> Response:
    return _error(404, "No such route")


def _api_base_url() -> str:
    """The public base URL as the caller reached us (API Gateway sets X-Forwarded-Proto)."""
    event = app.current_event
    scheme = event.headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    host = event.request_context.domain_name or event.headers.get("host", "localhost")
    return f"{scheme}://{host}{BASE}"


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
def get_instance(instance_id: int) -> dict[str, Any]:
    return _answer(instances.get_owned(_caller(), instance_id))


@app.patch(f"{BASE}/instances/<instance_id>", tags=["Instances"])
def patch_instance(instance_id: int, body: PatchInstanceBody) -> dict[str, Any]:
    return _answer(instances.patch(_caller(), instance_id, body))


@app.delete(f"{BASE}/instances/<instance_id>", tags=["Instances"])
def delete_instance(instance_id: int) -> dict[str, Any]:
    instances.delete(_caller(), instance_id)
    return {"id": instance_id, "deleted": True}


def _token_instance(caller: auth.Caller) -> int:
    if caller.instance_id is None:
        raise BadRequest("This route needs 'Element <instance token>' in the authorization header")
    return caller.instance_id


@app.put(f"{BASE}/instances/<instance_id>/enabled", tags=["Instances"])
def enable_instance(instance_id: int) -> dict[str, Any]:
    return _answer(instances.set_enabled(_caller(), instance_id, enabled=True))


@app.delete(f"{BASE}/instances/<instance_id>/enabled", tags=["Instances"])
def disable_instance(instance_id: int) -> dict[str, Any]:
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
def poll_instance(instance_id: int) -> Response[dict[str, Any]]:
    instances.poll_now(_caller(), instance_id)
    return Response(202, content_types.APPLICATION_JSON, {"instanceId": instance_id, "status": "scheduled"})


@app.get(f"{BASE}/instances/<instance_id>/events", tags=["Events"])
def list_events(
    instance_id: int,
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
def retry_events(instance_id: int) -> Response[dict[str, Any]]:
    return Response(202, content_types.APPLICATION_JSON, events.retry_all(_caller(), instance_id))


@app.post(f"{BASE}/instances/<instance_id>/events/<event_id>/retry", tags=["Events"])
def retry_event(instance_id: int, event_id: str) -> Response[dict[str, Any]]:
    return Response(202, content_types.APPLICATION_JSON, events.retry_one(_caller(), instance_id, event_id))


# ---- webhook intake ---------------------------------------------------------------------------------


@app.route(f"{BASE}/events/intercom/<encoded_id>", method=["HEAD", "GET"], security=[{}], tags=["Webhooks"])
def webhook_check(encoded_id: str) -> Response[str]:
    intake.check_url(encoded_id)
    return Response(200, content_types.TEXT_PLAIN, "")


@app.post(f"{BASE}/events/intercom/<encoded_id>", security=[{}], tags=["Webhooks"])
def webhook(encoded_id: str) -> dict[str, Any]:
    event = app.current_event
    body = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
    result = intake.accept(encoded_id, body, event.headers.get("x-hub-signature"))
    return {"status": result.outcome, "events": result.events}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
