"""Open Connectors' authorization header.

`User <secret>, Organization <secret>`, or `User <secret>, Element <instance token>`.

Parsed by hand: no library knows this scheme. Parts come in any order and scheme names in any case.
Every comparison is constant-time, and no secret ever reaches a message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..errors import Unauthorized
from ..store import credentials
from ..store import instances as instance_store

_UNAUTHORIZED = "Invalid or missing authorization: expected 'User <secret>, Organization <secret>'"


@dataclass(frozen=True)
class Caller:
    user: credentials.User
    instance_id: int | None = None  # set when an Element token opened exactly one instance

    def may_open(self, instance_id: int) -> bool:
        return self.instance_id is None or self.instance_id == instance_id


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_header(header: str | None) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in (header or "").split(","):
        scheme, _, value = part.strip().partition(" ")
        if scheme and value.strip():
            parts[scheme.lower()] = value.strip()
    return parts


def _equal(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def authenticate(header: str | None, allow_element: bool = False) -> Caller:
    parts = parse_header(header)
    user_secret = parts.get("user")
    if not user_secret:
        raise Unauthorized(_UNAUTHORIZED)
    user = None
    for candidate in credentials.users():  # compare with every user, so timing says nothing of which
        if _equal(user_secret, candidate.secret):
            user = candidate
    if user is None:
        raise Unauthorized(_UNAUTHORIZED)
    if "organization" in parts and _equal(parts["organization"], credentials.organization_secret()):
        return Caller(user=user)
    if allow_element and "element" in parts:
        instance_id = instance_store.instance_for_token(token_hash(parts["element"]))
        if instance_id is not None:
            return Caller(user=user, instance_id=instance_id)
    raise Unauthorized(_UNAUTHORIZED)
