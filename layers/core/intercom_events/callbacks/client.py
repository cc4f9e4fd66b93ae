"""The HTTP client that carries callbacks: one per event loop, reused across warm invocations.

Powertools' AsyncBatchProcessor keeps one event loop for the life of a Lambda container, so the
client and its open connections live as long; elsewhere (tests, the local stack) each batch gets its
own loop and a fresh client. Redirects are never followed: a callback goes where it was told, or fails.

Every request goes through `GuardedTransport`, the connect-time half of the SSRF guard (SPEC §6): it
resolves the callback host itself, refuses it unless every answer is a public address, and then dials
the vetted address rather than the name, so a DNS answer that changes between the check and the connect
(DNS rebinding) is never dialled. The request keeps its `Host` header, and over https the TLS server name
(SNI) and the certificate check stay on the original name.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from ssl import SSLContext

import httpx

from ..config import settings
from ..observability import logger
from .guard import (
    AsyncResolver,
    CallbackHostUnresolvable,
    CallbackUrlError,
    addresses_to_dial,
    resolve_for_connect,
)

_client: httpx.AsyncClient | None = None
_loop: asyncio.AbstractEventLoop | None = None

# Per origin (scheme, host, port): an SQS batch holds at most 10 callbacks.
DEFAULT_LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)


class CallbackHostRefused(httpx.TransportError):
    """The callback host is not to be dialled: it is or resolves to a non-public address, or the URL
    carries credentials. The message names the host and the reason, never the URL."""


@dataclass(eq=False)
class _OriginPool:
    transport: httpx.AsyncBaseTransport
    in_use: int = 0


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that hands its origin pool back when the response is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:  # once, however often the response is closed
                release()


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks the addresses a callback host resolves to on every request, then dials a vetted address.

    Connections are pooled per origin (scheme, host name, port), each origin in a transport of its own:
    with one pool keyed by address, two callback hosts behind the same address (a CDN, a shared load
    balancer) would share a TLS connection whose certificate was checked for only one of them. At most
    `max_origins` origins are kept; the least recently used idle one is closed to make room.

    `resolve` and `pool_factory` are seams for tests: a fake resolver and a fake inner transport.
    """

    def __init__(
        self,
        allowed_hosts: frozenset[str] = frozenset(),
        *,
        resolve: AsyncResolver = resolve_for_connect,
        pool_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
        max_origins: int = 32,
    ) -> None:
        self._allowed_hosts = allowed_hosts
        self._resolve = resolve
        self._pool_factory = pool_factory or self._http_transport
        self._limits = limits
        self._max_origins = max_origins
        self._ssl_context: SSLContext | None = None
        self._origins: OrderedDict[tuple[str, str, int], _OriginPool] = OrderedDict()

    def _http_transport(self) -> httpx.AsyncBaseTransport:
        # One certificate store for every origin, loaded once.
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return httpx.AsyncHTTPTransport(verify=self._ssl_context, limits=self._limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii")  # the IDNA form: what DNS and TLS see
        port = url.port or (443 if url.scheme == "https" else 80)
        if url.userinfo:
            reason = f"callback URL for host {host!r} must not carry credentials; use the basic auth settings"
            raise self._refuse(request, host, reason)
        timeout = request.extensions.get("timeout", {}).get("connect")
        try:
            async with asyncio.timeout(timeout):
                addresses = await addresses_to_dial(host, port, self._allowed_hosts, self._resolve)
        except CallbackHostUnresolvable as exc:  # a network failure like any other, not a refusal
            raise httpx.ConnectError(str(exc)) from None
        except CallbackUrlError as exc:
            raise self._refuse(request, host, str(exc)) from None
        except TimeoutError:
            raise httpx.ConnectTimeout(f"callback host {host!r} did not resolve in time") from None

        pool = await self._checkout((url.scheme, host, port))
        try:
            if addresses is None:  # allow-listed or a public IP literal: dialled as written
                response = await pool.transport.handle_async_request(request)
            else:
                response = await self._dial_vetted(pool.transport, request, host, addresses)
        except BaseException:
            self._checkin(pool)
            raise
        if response.is_closed or not isinstance(response.stream, httpx.AsyncByteStream):
            self._checkin(pool)  # nothing left to read over the connection
        else:
            response.stream = _ReleasingStream(response.stream, lambda: self._checkin(pool))
        return response

    async def _dial_vetted(
        self, inner: httpx.AsyncBaseTransport, request: httpx.Request, host: str, addresses: list[str]
    ) -> httpx.Response:
        """Send `request` to the first vetted address that accepts a connection, never to the name."""
        headers = request.headers.copy()
        if "host" not in headers:
            headers["Host"] = request.url.netloc.decode("ascii")  # host, and port when not the default
        extensions = dict(request.extensions)
        if request.url.scheme == "https":
            # httpcore passes sni_hostname to the TLS handshake as server_hostname, which both sets SNI
            # and is the name the certificate is verified against.
            extensions["sni_hostname"] = host
        failure: httpx.ConnectError | None = None
        for address in addresses:
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=address),  # httpx brackets an IPv6 address
                headers=headers,
                stream=request.stream,
                extensions=extensions,
            )
            try:
                return await inner.handle_async_request(pinned)
            except httpx.ConnectError as exc:  # refused or unreachable: nothing sent yet, try the next
                failure = exc
        assert failure is not None  # addresses_to_dial never returns an empty list
        raise failure

    def _refuse(self, request: httpx.Request, host: str, reason: str) -> CallbackHostRefused:
        logger.warning("callback host refused", extra={"host": host, "reason": reason})
        return CallbackHostRefused(reason, request=request)

    async def _checkout(self, origin: tuple[str, str, int]) -> _OriginPool:
        pool = self._origins.pop(origin, None) or _OriginPool(self._pool_factory())
        self._origins[origin] = pool  # most recently used last
        pool.in_use += 1
        idle = [key for key, other in self._origins.items() if other.in_use == 0]
        retired = [self._origins.pop(key) for key in idle[: max(0, len(self._origins) - self._max_origins)]]
        for old in retired:
            await old.transport.aclose()
        return pool

    def _checkin(self, pool: _OriginPool) -> None:
        pool.in_use -= 1

    async def aclose(self) -> None:
        pools, self._origins = list(self._origins.values()), OrderedDict()
        for pool in pools:
            await pool.transport.aclose()


def callback_client() -> httpx.AsyncClient:
    global _client, _loop
    loop = asyncio.get_running_loop()
    if _client is None or _loop is not loop or loop.is_closed():
        _client = httpx.AsyncClient(
            transport=GuardedTransport(settings().callback_allowed_hosts),
            follow_redirects=False,
            timeout=httpx.Timeout(settings().callback_timeout_seconds),
            headers={"User-Agent": "intercom-events-callbacks/1.0"},
        )
        _loop = loop
    return _client


@dataclass(frozen=True)
class CallbackAnswer:
    """What one POST to a receiver came to: its status, or the error that kept it from answering."""

    status: int | None
    error: str | None
    retry_after: str | None
    elapsed_ms: float

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def post_callback(url: str, body: bytes, headers: dict[str, str]) -> CallbackAnswer:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        answer = await callback_client().post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return CallbackAnswer(None, type(exc).__name__, None, (loop.time() - started) * 1000)
    error = None if answer.is_success else f"HTTP {answer.status_code}"
    return CallbackAnswer(
        answer.status_code, error, answer.headers.get("retry-after"), (loop.time() - started) * 1000
    )
