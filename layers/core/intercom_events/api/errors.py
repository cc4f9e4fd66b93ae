"""How the API answers errors: one JSON body (models.answers.ErrorAnswer) for its domain errors, for
requests Powertools refuses, and for bugs; the error answers each route lists in the OpenAPI document."""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from ..errors import DomainError
from ..models.answers import ErrorAnswer, FieldError
from ..observability import logger
from .common import http_event

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

router = Router()  # exception handlers only: the resolver takes them over with the routes

_DESCRIPTIONS = {
    400: "Invalid request; `errors` names each bad field",
    401: "Missing or wrong authorization",
    404: "No such instance, element or route",
    409: "A backfill of this instance is running already",
    410: "The instance was deleted",
    415: "The body is not application/json",
}


def errors(*statuses: int) -> dict[int, OpenAPIResponse]:
    """A route's error answers, for its decorator's `responses=`."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {content_types.APPLICATION_JSON: {"model": ErrorAnswer}},
        }
        for status in statuses
    }


class Resolver(APIGatewayHttpResolver):
    """Powertools' resolver, documenting request validation as the 400 this API answers for it.

    Powertools lists a 422 with its own body on every operation, however the routes declare their
    answers (a known gap); the routes list their 400 themselves (`errors`), so the 422 and the schemas
    only it used are dropped here."""

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        # Imported for the document only: Powertools' OpenAPI models are a good part of a cold start.
        from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

        document = (
            super().get_openapi_schema(**kwargs).model_dump(by_alias=True, exclude_none=True, mode="json")
        )
        for schema in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
            document.get("components", {}).get("schemas", {}).pop(schema, None)
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                operation["responses"].pop("422", None)
        return OpenAPI.model_validate(document)


def _error(status: int, message: str, problems: list[dict[str, str]] | None = None) -> Response:
    answer = ErrorAnswer(
        message=message,
        requestId=http_event(router).request_context.request_id,
        errors=[FieldError.model_validate(problem) for problem in problems] if problems else None,
    )
    return Response(status, content_types.APPLICATION_JSON, answer.model_dump(mode="json"))


@router.exception_handler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    return _error(exc.status, exc.message, exc.errors)


@router.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        problems.append({"field": ".".join(loc) or "body", "message": str(error.get("msg", "invalid"))})
    return _error(400, "Invalid request", problems)


# Bodies Powertools cannot read. It lets three of them through as errors of its own: a body that is not
# UTF-8 (API Gateway hands it over in Base64), one marked Base64 that is not, and a multipart body
# without a boundary.


@router.exception_handler(UnicodeDecodeError)
def _not_utf8(_: UnicodeDecodeError) -> Response:
    return _error(400, "Invalid request", [{"field": "body", "message": "not UTF-8 text"}])


@router.exception_handler(binascii.Error)
def _not_base64(_: binascii.Error) -> Response:
    # Powertools decodes a body marked isBase64Encoded before validation; text that is not Base64 is
    # the client's fault (a binascii.Error is a ValueError, which would otherwise count as a bug).
    return _error(400, "Invalid request", [{"field": "body", "message": "not Base64 as announced"}])


@router.exception_handler(RequestUnsupportedContentType)
def _not_json(_: Exception) -> Response:
    return _error(415, "Unsupported content type: send application/json")


@router.exception_handler(ValueError)
def _multipart_without_boundary(exc: ValueError) -> Response:
    if not router.current_event.headers.get("content-type", "").lower().startswith("multipart/"):
        return _unexpected(exc)  # any other ValueError is a bug
    return _not_json(exc)


@router.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    return _error(exc.status_code, str(exc.msg))  # Powertools' own HTTP errors, in this API's body


@router.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    """A bug, never a bad request (those are 4xx above): logged with its traceback, answered as every
    error is, so the caller has the requestId to quote. API Gateway's 5xx alarm counts it."""
    logger.error("unexpected error", exc_info=exc)
    return _error(500, "Internal error")


@router.exception_handler(NotFoundError)
def _no_route(_: NotFoundError) -> Response:
    return _error(404, "No such route")
