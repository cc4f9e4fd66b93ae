"""Intercom's webhook signature: `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>` (SPEC §4).

The key is the Intercom app's client secret. The HMAC must be taken over the body bytes exactly as
received: re-serialising parsed JSON changes whitespace and key order and breaks the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_HEADER = re.compile(r"sha1=([0-9a-f]{40})", re.IGNORECASE)


def hub_signature(body: bytes, client_secret: str) -> str:
    """The full `X-Hub-Signature` value Intercom sends for `body`."""
    return "sha1=" + hmac.new(client_secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def verify_hub_signature(body: bytes, header: str | None, client_secret: str) -> bool:
    """True only when `header` is a well-formed, matching `sha1=<hex>` for `body`."""
    # An empty secret would make a signature anyone can compute: never accept one.
    if not header or not client_secret:
        return False
    match = _HEADER.fullmatch(header.strip())
    if match is None:
        return False
    # Both sides are lower-case ASCII hex here, which compare_digest requires for str.
    return hmac.compare_digest(hub_signature(body, client_secret), "sha1=" + match.group(1).lower())
