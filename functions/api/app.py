"""The API function: Open Connectors' management routes and Intercom's webhook intake.

Wiring only: the resolver, the routers of intercom_events.api (one per tag, each route one logic call
answering a typed model), the error mappers, the OpenAPI document and the handler's decorators.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_events import json_body
from intercom_events.api import console, errors, events, instances, operations, polling, webhooks
from intercom_events.api.common import BASE
from intercom_events.config import require_settings
from intercom_events.observability import logger, metrics, tracer

TITLE = "Intercom Events (Open Connectors compatible)"

# Bodies are read with limits (json_body): no depth, number or string a client sends can fail the parse.
app = errors.Resolver(enable_validation=True, json_body_deserializer=json_body.parse)
app.configure_openapi(
    title=TITLE,
    version="1.0.0",
    description="Connector instances for Intercom and their event callbacks, as Open Connectors serves them.",
    security_schemes={"OpenConnectors": APIKey(name="Authorization", in_=APIKeyIn.header)},
    security=[{"OpenConnectors": []}],
)
app.enable_swagger(path=f"{BASE}/swagger", title=TITLE)
for routes in (operations, instances, polling, events, webhooks, console, errors):
    app.include_router(routes.router, prefix=BASE)


@app.get(f"{BASE}/openapi.json", security=[{}], tags=["Operations"], include_in_schema=False)
def openapi_document() -> Response[str]:
    """The document /swagger shows, as `make openapi` writes it to docs/openapi.json."""
    return Response(200, content_types.APPLICATION_JSON, app.get_openapi_json_schema(title=TITLE))


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event holds the caller's Authorization
# header and, in a create or patch body, the instance's secrets.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True, log_event=False
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    require_settings("api")
    return app.resolve(event, context)
