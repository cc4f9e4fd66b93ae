"""Intercom's OAuth: the consent URL and the code exchange at POST /auth/eagle/token."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from ..config import settings
from ..errors import UpstreamError
from ..observability import logger, tracer
from .answers import error_code, json_object

CONSENT_URL = "https://app.intercom.com/oauth"


def consent_url(client_id: str, redirect_uri: str, state: str | None) -> tuple[str, str]:
    """Intercom's consent page; the simulated Intercom's when INTERCOM_API_BASE_URL points at one, so the
    console's OAuth round trip works under `make local` too."""
    state = state or secrets.token_urlsafe(16)
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    base = settings().intercom_api_base_url.rstrip("/")
    return f"{base + '/oauth' if base else CONSENT_URL}?{query}", state


def api_base_url(region_host: str) -> str:
    """INTERCOM_API_BASE_URL, when set, points every instance at another Intercom (a simulated one)."""
    return (settings().intercom_api_base_url or region_host).rstrip("/")


@tracer.capture_method(capture_response=False)
def exchange_code(base_url: str, code: str, client_id: str, client_secret: str) -> str:
    """Return the access token; Intercom's tokens do not expire, so there is nothing to refresh."""
    # Imported here: the webhook path imports this module (through logic.instances) but never calls it.
    import httpx

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
    body = json_object(answer) or {}
    token = body.get("token") or body.get("access_token")
    if answer.is_success and token:
        return str(token)
    code_name = error_code(body) or f"http_{answer.status_code}"
    logger.warning("intercom token exchange refused", extra={"status": answer.status_code, "code": code_name})
    raise UpstreamError(
        f"Intercom refused the OAuth code exchange: {code_name}",
        [{"field": "providerData.code", "message": code_name}],
    )
