"""The HTTP client that carries callbacks: one per event loop, reused across warm invocations.

Powertools' AsyncBatchProcessor keeps one event loop for the life of a Lambda container, so the
client and its open connections live as long; elsewhere (tests, the local stack) each batch runs in
`asyncio.run`, a loop of its own, and the client made for it is closed as that loop ends. Redirects are
never followed: a callback goes where it was told, or fails.

A receiver costs one attempt at most, whatever it does: each callback has one deadline for all of it
(resolving the host, connecting, sending, the answer's headers and body), and at most `MAX_ANSWER_BYTES`
of an answer are read; the rest is never read, and its connection is closed rather than pooled.

Every request goes through `GuardedTransport`, the connect-time half of the SSRF guard (SPEC §6): it
resolves the callback host itself, refuses it unless every answer is a public address, and then dials
the vetted address rather than the name, so a DNS answer that changes between the check and the connect
(DNS rebinding) is never dialled. The request keeps its `Host` header, and over https the TLS server name
(SNI) and the certificate check stay on the original name.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from ssl import SSLContext
from typing import cast

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
from .signing import CallbackHeaderError

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)
_closers: set[asyncio.Task[None]] = set()  # the event loop keeps only weak references to tasks

# Enough of an answer for the log; a receiver answering more is not read further.
MAX_ANSWER_BYTES = 4096

# Per origin (scheme, host, port): an SQS batch holds at most 10 callbacks.
DEFAULT_LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)


class CallbackHostRefused(httpx.TransportError):
    """The callback host is not to be dialled: it is or resolves to a non-public address, or the URL
    carries credentials. The message names the host and the reason, never the URL."""


class CallbackHostUnresolved(httpx.ConnectError):
    """The callback host has no address at the moment (a DNS failure). The message names the host."""


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
        self._pool_factory = pool_factory
        self._limits = limits
        self._max_origins = max_origins
        self._ssl_context: SSLContext | None = None
        self._origins: OrderedDict[tuple[str, str, int], _OriginPool] = OrderedDict()

    def _http_transport(self, scheme: str) -> httpx.AsyncBaseTransport:
        if scheme != "https":
            # Loading the certificate store takes tens of milliseconds of a cold start; plain HTTP (allowed
            # only by ALLOW_HTTP_CALLBACKS) never uses it. An https origin has a pool of its own.
            return httpx.AsyncHTTPTransport(verify=False, limits=self._limits)
        # One certificate store for every https origin, loaded once.
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
            raise CallbackHostUnresolved(str(exc), request=request) from None
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
        pool = self._origins.pop(origin, None)
        if pool is None:
            inner = self._pool_factory() if self._pool_factory else self._http_transport(origin[0])
            pool = _OriginPool(inner)
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


def _new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=GuardedTransport(settings().callback_allowed_hosts),
        follow_redirects=False,
        # A bound per operation; post_callback's deadline bounds the callback as a whole.
        timeout=httpx.Timeout(settings().callback_timeout_seconds),
        # An answer's first bytes are logged as they came: no compressed answers.
        headers={"User-Agent": "intercom-events-callbacks/1.0", "Accept-Encoding": "identity"},
    )


async def _close_when_the_loop_ends(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
    """Waits for as long as the loop runs. `asyncio.run` cancels every pending task before it closes its
    loop, which closes the client and its sockets while the loop can still do so; a loop that lives on
    (the Lambda container's) keeps the client and its warm connections."""
    try:
        await loop.create_future()  # never resolved: only the loop's end finishes this task
    except GeneratorExit:
        # The loop was dropped unclosed (the interpreter exiting): nothing can be awaited any more.
        raise
    except BaseException:
        if _clients.get(loop) is client:
            del _clients[loop]
        await client.aclose()
        raise


def callback_client() -> httpx.AsyncClient:
    """The running event loop's callback client, made on first use."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = _new_client()
        closer = loop.create_task(_close_when_the_loop_ends(loop, client), name="close-callback-client")
        _closers.add(closer)
        closer.add_done_callback(_closers.discard)
    return client


@dataclass(frozen=True)
class CallbackAnswer:
    """What one POST to a receiver came to: its status, or the error that kept it from answering."""

    status: int | None
    error: str | None
    retry_after: str | None
    elapsed_ms: float
    # The answer body's first bytes (at most MAX_ANSWER_BYTES), as they came.
    excerpt: bytes = b""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# What is recorded for an exception: its type and one of these reasons, never its message, which can
# carry what was sent (h11 quotes a refused header value; a URL error may quote the URL). First match wins.
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (httpx.TimeoutException, "no complete answer within the callback deadline"),
    (TimeoutError, "no complete answer within the callback deadline"),
    (httpx.UnsupportedProtocol, "the callback URL is not an http or https URL"),
    (httpx.InvalidURL, "the callback URL cannot be parsed"),
    (httpx.ConnectError, "could not connect to the callback host"),
    (httpx.RemoteProtocolError, "the receiver broke off or did not answer in HTTP"),
    (httpx.LocalProtocolError, "the HTTP client refused to send the request"),
    (httpx.ReadError, "the connection failed while reading the answer"),
    (httpx.WriteError, "the connection failed while sending the callback"),
    (httpx.HTTPError, "the HTTP client failed"),
    (UnicodeError, "a header or the URL holds characters the HTTP client cannot send"),
    (OverflowError, "the callback URL's port is out of range"),
)
# Ours, whose messages are written to be shown: they name a host or a header at most.
_SHOWN = (CallbackHostRefused, CallbackHostUnresolved, CallbackUrlError, CallbackHeaderError)


def failure_reason(exc: BaseException) -> str:
    """`<ExceptionType>: <reason>`, safe to record and log: no header value, URL or credential."""
    # anyio's connect wraps a lone failure in a group (a port out of range comes back so).
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, _SHOWN):
        reason = str(exc)
    else:
        reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), "unexpected error")
        cause = exc.__cause__
        if isinstance(exc, httpx.TransportError) and isinstance(cause, OSError) and cause.strerror:
            reason += f" ({cause.strerror})"  # the operating system's words: "Connection refused"
    return f"{type(exc).__name__}: {reason}"


async def _first_bytes(response: httpx.Response, limit: int) -> bytes:
    """Up to `limit` bytes of the body, read as it streams in; the rest is never read."""
    kept = bytearray()
    # aiter_raw is an async generator (typed as an iterator): closed on leaving, not when collected.
    raw = cast("AsyncGenerator[bytes, None]", response.aiter_raw())
    async with contextlib.aclosing(raw) as chunks:
        async for chunk in chunks:
            kept += chunk[: limit - len(kept)]
            if len(kept) >= limit:
                break
    return bytes(kept)


async def post_callback(
    url: str, body: bytes, headers: dict[str, str], deadline_seconds: float
) -> CallbackAnswer:
    """POST one callback, all of it (DNS, connect, send, answer) within `deadline_seconds`.

    Never raises for what the receiver, the network or the request's own URL and headers do: every such
    failure comes back as an answer with an `error`.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()

    def elapsed_ms() -> float:
        return (loop.time() - started) * 1000

    try:
        async with asyncio.timeout(deadline_seconds):
            # Leaving the block closes the response: a connection whose answer was read to its end goes
            # back to the pool; one with unread bytes (a large answer, a deadline mid-body) is closed.
            request = callback_client().stream(
                "POST", url, content=body, headers=headers, timeout=deadline_seconds
            )
            async with request as answer:
                excerpt = await _first_bytes(answer, MAX_ANSWER_BYTES)
    except TimeoutError:
        error = f"TimeoutError: no complete answer within the callback deadline ({deadline_seconds:g} s)"
        return CallbackAnswer(None, error, None, elapsed_ms())
    except Exception as exc:  # every failure of an attempt is recorded, none escapes
        return CallbackAnswer(None, failure_reason(exc), None, elapsed_ms())
    failure = None if answer.is_success else f"HTTP {answer.status_code}"
    return CallbackAnswer(
        answer.status_code, failure, answer.headers.get("retry-after"), elapsed_ms(), excerpt
    )
