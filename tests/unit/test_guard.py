"""The SSRF guard on callback URLs (SPEC §6)."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from intercom_events.callbacks.guard import (
    CallbackUrlError,
    check_callback_url,
    check_resolved,
    is_public_address,
)

REFUSED = [
    "127.0.0.1",
    "10.0.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "::1",
    "fd00::1",
    "172.16.0.1",
    "192.168.1.1",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "224.0.0.1",
    "fe80::1",
    "fec0::1",
    "::ffff:127.0.0.1",
    "64:ff9b::7f00:1",
    # beyond the brief's list
    "172.31.255.255",
    "198.18.0.1",
    "192.0.2.1",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "ff02::1",
    "2001:db8::1",
    "::ffff:169.254.169.254",
    "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
    "::10.0.0.1",  # IPv4-compatible
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo whose client is 10.0.0.1
    "64:ff9b::5db8:d822",  # NAT64 even around a public address
    "fe80::1%eth0",
]
PUBLIC = ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8", "::ffff:93.184.216.34", "2002:5db8:d822::1"]


def resolver(*answers: str):
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return list(answers)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError("must not resolve")


def check(
    url: str, *, allowed: frozenset[str] = frozenset(), allow_http: bool = False, resolve=no_dns
) -> None:
    check_callback_url(url, allowed_hosts=allowed, allow_http=allow_http, resolve=resolve)


def url_for(literal: str) -> str:
    return f"https://[{literal}]/hook" if ":" in literal else f"https://{literal}/hook"


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_address_is_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_address_is_accepted(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [a for a in REFUSED if "%" not in a])
def test_non_public_ip_literal_url_is_refused(address: str) -> None:
    with pytest.raises(CallbackUrlError):
        check(url_for(address))


@pytest.mark.parametrize("address", REFUSED)
def test_name_resolving_to_non_public_address_is_refused(address: str) -> None:
    with pytest.raises(CallbackUrlError, match="not a public"):
        check("https://hooks.example.com/in", resolve=resolver(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_ip_literal_url_is_accepted(address: str) -> None:
    check(url_for(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_name_resolving_to_public_address_is_accepted(address: str) -> None:
    check("https://hooks.example.com/in", resolve=resolver(address))


def test_resolver_gets_host_and_default_port() -> None:
    resolve = resolver("93.184.216.34")
    check("https://Hooks.Example.com/in", resolve=resolve)
    check("https://hooks.example.com:8443/in", resolve=resolve)
    assert resolve.calls == [("hooks.example.com", 443), ("hooks.example.com", 8443)]


def test_one_private_answer_among_public_ones_is_refused() -> None:
    with pytest.raises(CallbackUrlError):
        check("https://rebind.example.com/", resolve=resolver("93.184.216.34", "10.0.0.1"))


def test_unresolvable_name_is_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(CallbackUrlError, match="cannot be resolved"):
        check("https://nowhere.invalid/", resolve=fail)


def test_name_with_no_answer_is_refused() -> None:
    with pytest.raises(CallbackUrlError):
        check("https://empty.example.com/", resolve=resolver())


def test_http_is_refused_by_default() -> None:
    with pytest.raises(CallbackUrlError, match="https"):
        check("http://hooks.example.com/in", resolve=resolver("93.184.216.34"))


def test_http_is_accepted_when_allowed() -> None:
    resolve = resolver("93.184.216.34")
    check("http://hooks.example.com/in", allow_http=True, resolve=resolve)
    assert resolve.calls == [("hooks.example.com", 80)]


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/", "file:///etc/passwd", "hooks.example.com/in", ""]
)
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(CallbackUrlError):
        check(url, allow_http=True)


@pytest.mark.parametrize("url", ["https:///path", "https://:443/path"])
def test_url_without_host_is_refused(url: str) -> None:
    with pytest.raises(CallbackUrlError, match="no host"):
        check(url)


def test_invalid_port_is_refused() -> None:
    with pytest.raises(CallbackUrlError):
        check("https://hooks.example.com:99999/")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:3000/hook",
        "http://localhost:9000/hook",
        "http://LOCALHOST./hook",
        "http://[::1]:9000/hook",
    ],
)
def test_allow_listed_host_passes_without_address_check(url: str) -> None:
    check(url, allowed=frozenset({"localhost", "127.0.0.1", "::1"}), allow_http=True)


def test_allow_listed_host_and_port_passes_only_on_that_port() -> None:
    allowed = frozenset({"receiver:8080", "[::1]:9000"})
    check("http://receiver:8080/", allowed=allowed, allow_http=True)
    check("http://[::1]:9000/", allowed=allowed, allow_http=True)
    with pytest.raises(CallbackUrlError):
        check("http://receiver:8081/", allowed=allowed, allow_http=True, resolve=resolver("172.18.0.5"))


def test_allow_list_does_not_lift_the_scheme_rule() -> None:
    with pytest.raises(CallbackUrlError):
        check("http://localhost/", allowed=frozenset({"localhost"}))


@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter2secret@hooks.example.com/in",
        "https://user@hooks.example.com/in",
        "https://:hunter2secret@hooks.example.com/in",
        "https://hooks.example.com\\@127.0.0.1/in",
    ],
)
def test_userinfo_is_refused(url: str) -> None:
    with pytest.raises(CallbackUrlError, match="credentials"):
        check(url, resolve=resolver("93.184.216.34"))


def test_userinfo_is_refused_even_for_an_allow_listed_host() -> None:
    with pytest.raises(CallbackUrlError):
        check("http://u:p@localhost/", allowed=frozenset({"localhost"}), allow_http=True)


@pytest.mark.parametrize(
    ("url", "resolve"),
    [
        ("https://admin:hunter2secret@hooks.example.com/in", resolver("93.184.216.34")),
        ("http://admin:hunter2secret@hooks.example.com/in", resolver("93.184.216.34")),
        ("https://hooks.example.com/in?token=hunter2secret", resolver("10.0.0.1")),
    ],
)
def test_error_message_has_no_secret(url: str, resolve) -> None:
    with pytest.raises(CallbackUrlError) as caught:
        check(url, resolve=resolve)
    assert "hunter2secret" not in str(caught.value)
    assert "hunter2secret" not in repr(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://",
        "http://[::1/hook",
        "http://u:hunter2pass@hooks.example.com:99999/hook",
        "https://hooks.example.com:port/hook",
        "https://xn--/hook",
        "https://" + "a" * 300 + ".example.com/hook",
        "https://exa\u0000mple.com/hook",
        "javascript:alert(1)",
    ],
)
def test_a_malformed_callback_url_is_refused_as_such_and_never_quoted(url: str) -> None:
    """The API answers 400 for a CallbackUrlError; any other exception would be a 500."""

    def resolve(host: str, port: int) -> list[str]:
        raise socket.gaierror("no such host")

    with pytest.raises(CallbackUrlError) as caught:
        check_callback_url(url, allowed_hosts=frozenset(), allow_http=True, resolve=resolve)
    assert "hunter2pass" not in str(caught.value)


def test_connect_time_check_refuses_a_changed_answer() -> None:
    check_resolved("hooks.example.com", ["93.184.216.34"], frozenset())
    with pytest.raises(CallbackUrlError):
        check_resolved("hooks.example.com", ["169.254.169.254"], frozenset())


def test_connect_time_check_refuses_garbage_and_empty_answers() -> None:
    with pytest.raises(CallbackUrlError):
        check_resolved("hooks.example.com", ["not-an-ip"], frozenset())
    with pytest.raises(CallbackUrlError):
        check_resolved("hooks.example.com", [], frozenset())


def test_connect_time_check_honours_the_allow_list() -> None:
    check_resolved("LocalHost", ["127.0.0.1"], frozenset({"localhost"}))
    check_resolved("receiver", ["172.18.0.5"], frozenset({"receiver:8080"}), port=8080)
    with pytest.raises(CallbackUrlError):
        # A host:port entry cannot be honoured without knowing the port.
        check_resolved("receiver", ["172.18.0.5"], frozenset({"receiver:8080"}))
