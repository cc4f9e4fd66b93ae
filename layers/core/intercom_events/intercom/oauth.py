"""Intercom's OAuth: the consent URL and the code exchange at POST /auth/eagle/token."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

import httpx

from ..config import settings
from ..errors import UpstreamError
from ..observability import logger, tracer

CONSENT_URL = "https://app.intercom.com/oauth"


def consent_url(client_id: str, redirect_uri: str, state: str | None) -> tuple[str, str]:
    state = state or secrets.token_urlsafe(16)
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{CONSENT_URL}?{query}", state


def api_base_url(region_host: str) -> str:
    """INTERCOM_API_BASE_URL, when set, points every instance at another Intercom (a simulated one)."""
    return (settings().intercom_api_base_url or region_host).rstrip("/")


@tracer.capture_method(capture_response=False)
def exchange_code(base_url: str, code: str, client_id: str, client_secret: str) -> str:
    """Return the access token; Intercom's tokens do not expire, so there is nothing to refresh."""
    try:
        answer = httpx.post(
            f"{base_url}/auth/eagle/token",
            data={"code": code, "client_id": client_id, "client_secret": client_secret},
            headers={"Accept": "application/json"},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        logger.warning("intercom token exchange unreachable", extra={"error": type(exc).__name__})
        raise UpstreamError("Intercom could not be reached to exchange the OAuth code") from None
    body = _json(answer)
    token = body.get("token") or body.get("access_token")
    if answer.is_success and token:
        return str(token)
    code_name = _error_code(body) or f"http_{answer.status_code}"
    logger.warning("intercom token exchange refused", extra={"status": answer.status_code, "code": code_name})
    raise UpstreamError(
        f"Intercom refused the OAuth code exchange: {code_name}",
        [{"field": "providerData.code", "message": code_name}],
    )


def _json(answer: httpx.Response) -> dict:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(body: dict) -> str | None:
    errors = body.get("errors")
    code = None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
    elif isinstance(body.get("error"), str):
        code = body["error"]
    # Only a short code word goes back to the caller: an answer's free text could echo what we sent.
    return code if isinstance(code, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", code) else None
