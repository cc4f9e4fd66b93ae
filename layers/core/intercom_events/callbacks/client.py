"""The HTTP client that carries callbacks: one per event loop, reused across warm invocations.

Powertools' AsyncBatchProcessor keeps one event loop for the life of a Lambda container, so the
client and its open connections live as long; elsewhere (tests, the local stack) each batch gets its
own loop and a fresh client. Redirects are never followed: a callback goes where it was told, or fails.
"""

from __future__ import annotations

import asyncio

import httpx

from ..config import settings

_client: httpx.AsyncClient | None = None
_loop: asyncio.AbstractEventLoop | None = None


def callback_client() -> httpx.AsyncClient:
    global _client, _loop
    loop = asyncio.get_running_loop()
    if _client is None or _loop is not loop or loop.is_closed():
        _client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(settings().callback_timeout_seconds),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            headers={"User-Agent": "intercom-events-callbacks/1.0"},
        )
        _loop = loop
    return _client
