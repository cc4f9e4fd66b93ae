"""The API function: Open Connectors' management routes and Intercom's webhook intake.

Wiring only: the resolver, the routers of intercom_events.api (one per tag, each route one logic call
answering a typed model), the error mappers, the OpenAPI document and the handler's decorators.

A cold start pays for what its first request needs, and no more. Intercom's webhooks (most requests,
and the ones with a deadline) need only their own routes, registered at import; the management routes
are imported and registered on the first request for any other path, and Powertools' OpenAPI models,
which only the document needs, on the first request for /openapi.json or /swagger.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_events import json_body
from intercom_events.api import errors, webhooks
from intercom_events.api.common import BASE
from intercom_events.config import require_settings
from intercom_events.observability import logger, metrics, trace_httpx, tracer

TITLE = "Intercom Events (Open Connectors compatible)"
DESCRIPTION = "Connector instances for Intercom and their event callbacks, as Open Connectors serves them."
# Only the webhook routes answer paths under this prefix (Powertools' path parameters hold no "/").
WEBHOOKS = f"{BASE}{webhooks.PREFIX}"
OPENAPI_PATH = f"{BASE}/openapi.json"
SWAGGER_PATH = f"{BASE}/swagger"

# Bodies are read with limits (json_body): no depth, number or string a client sends can fail the parse.
app = errors.Resolver(enable_validation=True, json_body_deserializer=json_body.parse)
for routes in (webhooks, errors):
    app.include_router(routes.router, prefix=BASE)


@cache
def management_routes() -> errors.Resolver:
    """The resolver with the management routes too (imported here: a webhook needs none of them)."""
    from intercom_events.api import console, events, instances, operations, polling

    for routes in (operations, instances, polling, events, console):
        app.include_router(routes.router, prefix=BASE)
    trace_httpx()  # a create exchanges its OAuth code with Intercom through it
    return app


@cache
def documented() -> errors.Resolver:
    """The resolver with every route and the OpenAPI document's settings, /openapi.json and /swagger:
    Powertools' OpenAPI models are imported here (by `enable_swagger` too), for the document only."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    management_routes()
    app.configure_openapi(
        title=TITLE,
        version="1.0.0",
        description=DESCRIPTION,
        security_schemes={"OpenConnectors": APIKey(name="Authorization", in_=APIKeyIn.header)},
        security=[{"OpenConnectors": []}],
    )
    app.enable_swagger(path=SWAGGER_PATH, title=TITLE)
    app.get(OPENAPI_PATH, security=[{}], tags=["Operations"], include_in_schema=False)(openapi_document)
    return app


def openapi_document() -> Response[str]:
    """The document /swagger shows, as `make openapi` writes it to docs/openapi.json."""
    return Response(200, content_types.APPLICATION_JSON, app.get_openapi_json_schema(title=TITLE))


def resolver_for(event: dict[str, Any]) -> errors.Resolver:
    """The resolver with the routes this request can reach registered (the path as Powertools reads it)."""
    path = APIGatewayProxyEventV2(event).path
    if path.startswith(WEBHOOKS):
        return app
    if path in (OPENAPI_PATH, SWAGGER_PATH):
        return documented()
    return management_routes()


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event holds the caller's Authorization
# header and, in a create or patch body, the instance's secrets.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True, log_event=False
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    require_settings("api")
    return resolver_for(event).resolve(event, context)
