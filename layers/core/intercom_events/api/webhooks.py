"""Webhooks: the URL Intercom sends an instance's notifications to (SPEC §4). Intercom signs what it
sends; no Open Connectors authorization here."""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from ..errors import BadRequest
from ..logic import intake
from ..models.answers import WebhookAnswer
from .errors import errors

router = Router()
TAGS = ["Webhooks"]
PREFIX = "/events/intercom/"  # the function routes every path under it here (functions/api/app.py)
PATH = f"{PREFIX}<encoded_id>"


@router.route(
    PATH,
    method=["HEAD", "GET"],
    security=[{}],
    tags=TAGS,
    # Nothing for Powertools to validate (the id is any text, the body is read raw to check its
    # signature): without it, a cold start that answers a webhook builds no validator.
    enable_validation=False,
    responses={
        200: {
            "description": "The instance is live (Intercom checks the URL before saving it)",
            "content": {content_types.TEXT_PLAIN: {"schema": {"type": "string", "maxLength": 0}}},
        },
        **errors(404, 410),
    },
)
def webhook_check(encoded_id: str) -> Response[str]:
    intake.check_url(encoded_id)
    return Response(200, content_types.TEXT_PLAIN, "")


@router.post(
    PATH,
    security=[{}],
    tags=TAGS,
    enable_validation=False,
    responses={
        200: {"description": "Taken: queued for the callback, or why not"},
        **errors(400, 401, 404, 410),
    },
)
def webhook(encoded_id: str) -> WebhookAnswer:
    result = intake.accept(encoded_id, _raw_body(), router.current_event.headers.get("x-hub-signature"))
    return WebhookAnswer(status=result.outcome, events=result.events)


def _raw_body() -> bytes:
    """The body's bytes as the sender signed them (API Gateway hands bodies that are not UTF-8 over in
    Base64); text that no bytes could have carried is a 400, not a failure."""
    event = router.current_event
    try:
        if event.is_base64_encoded:
            return base64.b64decode(event.body or "")
        return (event.body or "").encode()
    except (binascii.Error, UnicodeEncodeError):
        raise BadRequest("The body is neither text nor Base64") from None
