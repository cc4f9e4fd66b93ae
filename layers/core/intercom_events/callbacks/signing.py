"""Callback headers and their two signatures (SPEC §6).

- Open Connectors' `Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256(key, body)>`, so existing
  Open Connectors receivers keep working.
- Standard Webhooks' `webhook-id` / `webhook-timestamp` / `webhook-signature`, keyed with the same key's
  UTF-8 bytes, so a receiver can verify with the `standardwebhooks` package and
  `standard_webhooks_secret(key)`. Signing goes through that package rather than a copy of its scheme,
  so the two cannot drift apart.

While a signature key rotation overlaps (`InstanceConfig.overlapping_signature_key`), `webhook-signature`
carries the new key's signature and then the previous key's, space-separated, as Standard Webhooks
defines for rotation: a receiver holding either key verifies the header as it is. The Open Connectors
header has a single value and carries the new key's only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

# Importing it costs under 1 ms on top of the stdlib modules this module needs anyway (base64, hmac,
# hashlib), measured with `python -X importtime`, so there is no reason to import it lazily.
from standardwebhooks.webhooks import Webhook

from ..models.instance import HEADER_NAME, HEADER_VALUE

ELEMENTS_SIGNATURE_HEADER = "Elements-Webhook-Signature"

# Headers a configured `event.notification.callback.headers` entry can never set (compared
# case-insensitively): the ones receivers verify, and the framing ones the HTTP client computes.
# Extras naming them are dropped at delivery rather than failing it, because a delivery retried forever
# for a configuration mistake helps no one; the instance validation should refuse them when saved.
# `Authorization` is reserved only when Basic auth is configured, so a receiver may still ask for a
# bearer token through the extra headers.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        ELEMENTS_SIGNATURE_HEADER.lower(),
    }
)


class CallbackHeaderError(ValueError):
    """A configured callback header the HTTP client cannot send. The message names the header, never
    its value (a configured header often carries a token)."""


def _checked(name: str, value: str) -> tuple[str, str]:
    shown = name[:64]
    # The grammar instances are saved with; checked again here because an instance stored before that
    # check existed may still carry a header the HTTP client cannot send.
    if not HEADER_NAME.fullmatch(name):
        raise CallbackHeaderError(f"callback header name {shown!r} is not a valid HTTP header name")
    value = value.strip(" \t")  # surrounding whitespace is not part of a field value
    if value and not HEADER_VALUE.fullmatch(value):
        raise CallbackHeaderError(
            f"callback header {shown!r} has a value the HTTP client cannot send "
            "(only visible ASCII characters, spaces and tabs)"
        )
    return name, value


def elements_signature(body: bytes, key: str) -> str:
    """Open Connectors' `Elements-Webhook-Signature` value for `body`."""
    digest = hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def standard_webhooks_secret(key: str) -> str:
    """The `whsec_` secret a Standard Webhooks receiver configures for signature key `key`."""
    return "whsec_" + base64.b64encode(key.encode("utf-8")).decode("ascii")


def callback_headers(
    body: bytes,
    event_id: str,
    signature_key: str | None,
    timestamp: datetime,
    extra_headers: Mapping[str, str] | None = None,
    basic_auth: tuple[str, str] | None = None,
    previous_signature_key: str | None = None,
) -> dict[str, str]:
    """Every header of one callback POST carrying `body` (the exact bytes that will be sent).
    `previous_signature_key`: the key `signature_key` replaced, while their overlap lasts.

    Raises CallbackHeaderError for a configured header that cannot be sent: the delivery fails, is
    recorded with that reason and retried on the schedule, so a corrected configuration is picked up.
    """
    # Webhook.sign() stamps a UTC tzinfo onto the datetime instead of converting it, so convert first;
    # naive datetimes are taken as UTC, as everywhere in this project.
    ts = timestamp.astimezone(UTC) if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    reserved = RESERVED_HEADERS | ({"authorization"} if basic_auth else set())
    headers = dict(
        _checked(name, value) for name, value in (extra_headers or {}).items() if name.lower() not in reserved
    )
    headers["Content-Type"] = "application/json"
    headers["webhook-id"] = event_id
    headers["webhook-timestamp"] = str(int(ts.timestamp()))
    # An empty key signs nothing: an HMAC under an empty key proves nothing (and Webhook refuses it).
    if signature_key:
        headers[ELEMENTS_SIGNATURE_HEADER] = elements_signature(body, signature_key)
        # Callback bodies are JSON we serialised, hence UTF-8; the package signs text.
        text = body.decode("utf-8")
        keys = [signature_key] + ([previous_signature_key] if previous_signature_key else [])
        headers["webhook-signature"] = " ".join(
            Webhook(standard_webhooks_secret(key)).sign(event_id, ts, text) for key in keys
        )
    if basic_auth:
        user, password = basic_auth
        # RFC 7617's charset=UTF-8, which is what receivers expect for non-ASCII credentials.
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        headers["Authorization"] = "Basic " + token
    return headers
