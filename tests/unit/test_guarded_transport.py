"""The connect-time SSRF guard (SPEC §6): the callback client's transport, with a fake resolver and a fake
inner transport, so nothing here touches the network."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
import pytest
from intercom_events.callbacks.client import CallbackHostRefused, GuardedTransport, callback_client
from intercom_events.config import settings

T = TypeVar("T")

# The addresses issue #4 names; the guard's own tests cover the full tables.
REFUSED = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "100.64.0.1", "::1", "fd00::1"]
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1::1"


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


class FakeDns:
    """Answers from a table the test may change between requests; records every question."""

    def __init__(self, **answers: Sequence[str]) -> None:
        self.answers: dict[str, Sequence[str]] = {h.replace("_", "."): a for h, a in answers.items()}
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.answers[host]


class FakeInner(httpx.AsyncBaseTransport):
    """Stands in for the real connection pool: records what would have been dialled."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.closed = 0
        self._answer = answer or (lambda request: httpx.Response(200))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._answer(request)

    async def aclose(self) -> None:
        self.closed += 1


def url_for(address: str, path: str = "/hook") -> str:
    return f"https://[{address}]{path}" if ":" in address else f"https://{address}{path}"


def guarded(
    dns: FakeDns | None = None,
    inner: FakeInner | None = None,
    *,
    allowed: frozenset[str] = frozenset(),
    **options: Any,
) -> tuple[httpx.AsyncClient, FakeInner]:
    inner = inner or FakeInner()
    transport = GuardedTransport(
        allowed, resolve=dns or FakeDns(), pool_factory=options.pop("pool_factory", lambda: inner), **options
    )
    return httpx.AsyncClient(transport=transport, follow_redirects=False), inner


def post(client: httpx.AsyncClient, url: str) -> httpx.Response:
    async def send() -> httpx.Response:
        async with client:
            return await client.post(url, content=b"{}")

    return run(send())


@pytest.mark.parametrize("address", REFUSED)
def test_an_ip_literal_url_of_a_non_public_address_is_refused_and_never_dialled(address: str) -> None:
    dns = FakeDns()
    client, inner = guarded(dns)

    with pytest.raises(CallbackHostRefused, match="not a public internet address"):
        post(client, url_for(address))

    assert inner.requests == [] and dns.calls == []


@pytest.mark.parametrize("address", REFUSED)
def test_a_name_resolving_to_a_non_public_address_is_refused_and_never_dialled(address: str) -> None:
    client, inner = guarded(FakeDns(hooks_example_com=[address]))

    with pytest.raises(CallbackHostRefused, match="not a public internet address"):
        post(client, "https://hooks.example.com/in")

    assert inner.requests == []


@pytest.mark.parametrize("address", REFUSED)
def test_a_name_that_changes_its_answer_to_a_non_public_address_is_never_dialled_there(address: str) -> None:
    dns = FakeDns(rebind_example_com=[PUBLIC_V4])
    client, inner = guarded(dns)

    async def twice() -> None:
        async with client:
            assert (await client.post("https://rebind.example.com/in", content=b"{}")).status_code == 200
            dns.answers["rebind.example.com"] = [address]
            with pytest.raises(CallbackHostRefused):
                await client.post("https://rebind.example.com/in", content=b"{}")

    run(twice())

    assert [r.url.host for r in inner.requests] == [PUBLIC_V4]
    assert dns.calls == [("rebind.example.com", 443), ("rebind.example.com", 443)]


def test_one_non_public_answer_among_public_ones_is_refused() -> None:
    client, inner = guarded(FakeDns(hooks_example_com=[PUBLIC_V4, "10.0.0.1"]))

    with pytest.raises(CallbackHostRefused):
        post(client, "https://hooks.example.com/in")

    assert inner.requests == []


def test_a_refusal_is_an_httpx_error_naming_the_host_and_the_reason() -> None:
    client, _ = guarded(FakeDns(hooks_example_com=["169.254.169.254"]))

    with pytest.raises(httpx.HTTPError) as caught:
        post(client, "https://hooks.example.com/in?token=s3cret")

    assert isinstance(caught.value, httpx.TransportError)
    message = str(caught.value)
    assert "hooks.example.com" in message and "169.254.169.254" in message and "not a public" in message
    assert "s3cret" not in message and "/in" not in message


def test_a_public_answer_is_dialled_at_that_address_with_host_and_sni_kept() -> None:
    client, inner = guarded(FakeDns(hooks_example_com=[PUBLIC_V4]))

    post(client, "https://Hooks.Example.com/in?x=1")

    [sent] = inner.requests
    assert str(sent.url) == f"https://{PUBLIC_V4}/in?x=1"
    assert sent.headers["host"] == "hooks.example.com"
    assert sent.extensions["sni_hostname"] == "hooks.example.com"
    assert sent.read() == b"{}"


def test_a_non_default_port_is_dialled_and_kept_in_the_host_header() -> None:
    dns = FakeDns(hooks_example_com=[PUBLIC_V4])
    client, inner = guarded(dns)

    post(client, "https://hooks.example.com:8443/in")

    [sent] = inner.requests
    assert str(sent.url) == f"https://{PUBLIC_V4}:8443/in"
    assert sent.headers["host"] == "hooks.example.com:8443"
    assert dns.calls == [("hooks.example.com", 8443)]


def test_an_ipv6_answer_is_dialled_bracketed() -> None:
    client, inner = guarded(FakeDns(hooks_example_com=[PUBLIC_V6]))

    post(client, "https://hooks.example.com/in")

    [sent] = inner.requests
    assert str(sent.url) == f"https://[{PUBLIC_V6}]/in"
    assert sent.headers["host"] == "hooks.example.com"
    assert sent.extensions["sni_hostname"] == "hooks.example.com"


def test_plain_http_is_dialled_at_the_address_without_sni() -> None:
    dns = FakeDns(hooks_example_com=[PUBLIC_V4])
    client, inner = guarded(dns)

    post(client, "http://hooks.example.com/in")

    [sent] = inner.requests
    assert str(sent.url) == f"http://{PUBLIC_V4}/in"
    assert "sni_hostname" not in sent.extensions
    assert dns.calls == [("hooks.example.com", 80)]


def test_an_address_that_refuses_the_connection_gives_way_to_the_next_vetted_one() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC_V6:
            raise httpx.ConnectError("[Errno 101] Network is unreachable")
        return httpx.Response(200)

    client, inner = guarded(FakeDns(hooks_example_com=[PUBLIC_V6, PUBLIC_V4]), FakeInner(answer))

    assert post(client, "https://hooks.example.com/in").status_code == 200
    assert [r.url.host for r in inner.requests] == [PUBLIC_V6, PUBLIC_V4]


def test_when_every_vetted_address_refuses_the_connection_error_is_raised() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    client, inner = guarded(FakeDns(hooks_example_com=[PUBLIC_V4, "8.8.8.8"]), FakeInner(answer))

    with pytest.raises(httpx.ConnectError):
        post(client, "https://hooks.example.com/in")
    assert [r.url.host for r in inner.requests] == [PUBLIC_V4, "8.8.8.8"]


def test_a_public_ip_literal_is_dialled_as_written() -> None:
    dns = FakeDns()
    client, inner = guarded(dns)

    post(client, url_for(PUBLIC_V6))

    [sent] = inner.requests
    assert str(sent.url) == f"https://[{PUBLIC_V6}]/hook"
    assert "sni_hostname" not in sent.extensions and dns.calls == []


@pytest.mark.parametrize(
    "url", ["http://localhost:9000/hook", "http://127.0.0.1:9000/hook", "http://[::1]/x"]
)
def test_an_allow_listed_host_is_dialled_as_written_without_an_address_check(url: str) -> None:
    dns = FakeDns()
    client, inner = guarded(dns, allowed=frozenset({"localhost", "127.0.0.1", "::1"}))

    post(client, url)

    [sent] = inner.requests
    assert str(sent.url) == url and "sni_hostname" not in sent.extensions
    assert dns.calls == []


def test_an_allow_listed_host_and_port_opens_only_that_port() -> None:
    dns, inner, allowed = FakeDns(receiver=["172.18.0.5"]), FakeInner(), frozenset({"receiver:8080"})

    post(guarded(dns, inner, allowed=allowed)[0], "http://receiver:8080/hook")
    with pytest.raises(CallbackHostRefused):
        post(guarded(dns, inner, allowed=allowed)[0], "http://receiver:8081/hook")

    assert [str(r.url) for r in inner.requests] == ["http://receiver:8080/hook"]


@pytest.mark.parametrize(
    "url", ["https://user:hunter2secret@hooks.example.com/in", "https://:hunter2secret@hooks.example.com/in"]
)
def test_credentials_in_the_url_are_refused_and_never_named(url: str) -> None:
    dns = FakeDns(hooks_example_com=[PUBLIC_V4])
    client, inner = guarded(dns)

    with pytest.raises(CallbackHostRefused, match="credentials") as caught:
        post(client, url)

    assert "hunter2secret" not in str(caught.value) and "hooks.example.com" in str(caught.value)
    assert inner.requests == [] and dns.calls == []


def test_credentials_are_refused_even_for_an_allow_listed_host() -> None:
    client, inner = guarded(allowed=frozenset({"localhost"}))

    with pytest.raises(CallbackHostRefused, match="credentials"):
        post(client, "http://user:pw@localhost:9000/hook")
    assert inner.requests == []


def test_a_name_that_cannot_be_resolved_is_a_connection_error_not_a_refusal() -> None:
    client, inner = guarded(FakeDns())

    with pytest.raises(httpx.ConnectError, match="cannot be resolved") as caught:
        post(client, "https://nowhere.invalid/in")
    assert not isinstance(caught.value, CallbackHostRefused)
    assert inner.requests == []


def test_a_resolver_slower_than_the_connect_timeout_is_a_connect_timeout() -> None:
    async def slow(host: str, port: int) -> list[str]:
        await asyncio.sleep(5)
        return [PUBLIC_V4]

    inner = FakeInner()
    client = httpx.AsyncClient(
        transport=GuardedTransport(resolve=slow, pool_factory=lambda: inner),
        timeout=httpx.Timeout(5, connect=0.05),
    )

    with pytest.raises(httpx.ConnectTimeout, match=r"hooks\.example\.com"):
        post(client, "https://hooks.example.com/in")
    assert inner.requests == []


def test_a_redirect_to_a_non_public_address_is_not_followed() -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://metadata.example.com/latest/meta-data/"})

    dns = FakeDns(hooks_example_com=[PUBLIC_V4], metadata_example_com=["169.254.169.254"])
    client, inner = guarded(dns, FakeInner(redirect))

    response = post(client, "https://hooks.example.com/in")

    assert response.status_code == 307  # handed back as the answer, which delivery counts as a failure
    assert len(inner.requests) == 1 and dns.calls == [("hooks.example.com", 443)]


def test_hosts_sharing_an_address_never_share_a_connection_pool() -> None:
    made: list[FakeInner] = []

    def pool() -> FakeInner:
        made.append(FakeInner())
        return made[-1]

    client, _ = guarded(FakeDns(a_example_com=[PUBLIC_V4], b_example_com=[PUBLIC_V4]), pool_factory=pool)

    async def three() -> None:
        async with client:
            for host in ("a.example.com", "b.example.com", "a.example.com"):
                await client.post(f"https://{host}/in", content=b"{}")

    run(three())

    assert [[r.headers["host"] for r in m.requests] for m in made] == [
        ["a.example.com", "a.example.com"],
        ["b.example.com"],
    ]


class StreamedBody(httpx.AsyncByteStream):
    """An answer still to be read, as the real pool returns it: its connection is in use until closed."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"ok"


def test_the_least_recently_used_idle_origin_is_closed_beyond_the_limit_but_never_one_in_use() -> None:
    made: dict[str, FakeInner] = {}

    def pool() -> FakeInner:
        inner = FakeInner(lambda request: httpx.Response(200, stream=StreamedBody()))
        made[f"pool{len(made)}"] = inner
        return inner

    dns = FakeDns(a_example_com=[PUBLIC_V4], b_example_com=[PUBLIC_V4], c_example_com=[PUBLIC_V4])
    client, _ = guarded(dns, pool_factory=pool, max_origins=1)

    async def scenario() -> None:
        async with client.stream("POST", "https://a.example.com/in", content=b"{}") as held:
            await client.post("https://b.example.com/in", content=b"{}")
            await client.post("https://c.example.com/in", content=b"{}")
            assert made["pool0"].closed == 0  # a's answer is still open
            assert made["pool1"].closed == 1  # b was idle
            await held.aread()
        await client.post("https://b.example.com/in", content=b"{}")
        assert made["pool0"].closed == 1 and made["pool2"].closed == 1
        await client.aclose()
        assert made["pool3"].closed == 1

    run(scenario())


def test_the_callback_client_sends_every_request_through_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_ALLOWED_HOSTS", "")
    settings.cache_clear()  # each asyncio.run is a new loop, so a new client reads the setting

    async def send() -> httpx.AsyncClient:
        client = callback_client()
        with pytest.raises(CallbackHostRefused):
            await client.post("http://127.0.0.1:9/hook", content=b"{}")
        return client

    try:
        client = run(send())
    finally:
        settings.cache_clear()
    assert client.follow_redirects is False


def test_only_an_https_origin_loads_the_certificate_store() -> None:
    # Loading it is tens of milliseconds of a cold start; a plain-HTTP callback never uses it.
    async def pools() -> tuple[bool, bool]:
        transport = GuardedTransport()
        plain = await transport._checkout(("http", "receiver.example.com", 80))
        after_plain = transport._ssl_context is not None
        secure = await transport._checkout(("https", "receiver.example.com", 443))
        after_secure = transport._ssl_context is not None
        assert plain is not secure  # a pool of its own for each scheme
        await transport.aclose()
        return after_plain, after_secure

    assert run(pools()) == (False, True)
