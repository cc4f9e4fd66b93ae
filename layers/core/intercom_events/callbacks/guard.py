"""Server-side request forgery guard for callback URLs (SPEC §6).

A callback URL is chosen by whoever creates an instance, and the dispatcher POSTs to it from inside our
AWS account. So its host must resolve only to public addresses: never loopback, the VPC, the instance
metadata service (169.254.169.254) or anything else not reachable from the open internet. The check runs
when an instance is saved (`check_callback_url`) and again on the addresses actually connected to
(`addresses_to_dial`, used by the callback client's transport for every request), because a DNS answer
can change in between (DNS rebinding).

The ranges are listed here rather than taken from `ipaddress`'s `is_private`/`is_global`, whose meaning
has changed between Python patch releases; these tables are what the tests pin.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses to connect to, as getaddrinfo orders them.
AsyncResolver = Callable[[str, int], Awaitable[Sequence[str]]]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

_BLOCKED_V4: tuple[ipaddress.IPv4Network, ...] = (
    _V4("0.0.0.0/8"),  # "this network", incl. unspecified 0.0.0.0
    _V4("10.0.0.0/8"),  # private
    _V4("100.64.0.0/10"),  # carrier-grade NAT
    _V4("127.0.0.0/8"),  # loopback
    _V4("169.254.0.0/16"),  # link-local, incl. the instance metadata service
    _V4("172.16.0.0/12"),  # private
    _V4("192.0.0.0/24"),  # IETF protocol assignments
    _V4("192.0.2.0/24"),  # documentation (TEST-NET-1)
    _V4("192.88.99.0/24"),  # 6to4 relay anycast (deprecated)
    _V4("192.168.0.0/16"),  # private
    _V4("198.18.0.0/15"),  # benchmarking
    _V4("198.51.100.0/24"),  # documentation (TEST-NET-2)
    _V4("203.0.113.0/24"),  # documentation (TEST-NET-3)
    _V4("224.0.0.0/4"),  # multicast
    _V4("240.0.0.0/4"),  # reserved, incl. broadcast 255.255.255.255
)

# Only global unicast (2000::/3) can be public; inside it, these are not.
_GLOBAL_UNICAST_V6 = _V6("2000::/3")
_BLOCKED_V6: tuple[ipaddress.IPv6Network, ...] = (
    _V6("2001:2::/48"),  # benchmarking
    _V6("2001:10::/28"),  # ORCHID (deprecated)
    _V6("2001:20::/28"),  # ORCHIDv2
    _V6("2001:db8::/32"),  # documentation
    _V6("3fff::/20"),  # documentation (RFC 9637)
)
# IPv6 forms that carry an IPv4 address; the embedded address decides.
_MAPPED_V6 = _V6("::ffff:0:0/96")  # IPv4-mapped
_TRANSLATED_V6 = _V6("::ffff:0:0:0/96")  # IPv4-translated (SIIT)
_COMPATIBLE_V6 = _V6("::/96")  # IPv4-compatible (deprecated); also holds :: and ::1
# NAT64 prefixes are refused outright rather than unwrapped: they are not routed on the internet
# (RFC 6052, RFC 8215), so a DNS answer carrying one is someone steering us to a translator's view.
_NAT64_V6 = (_V6("64:ff9b::/96"), _V6("64:ff9b:1::/48"))


class CallbackUrlError(ValueError):
    """A callback URL that must not be called. The message names the host at most, never the URL,
    which may carry credentials in its userinfo or query."""


class CallbackHostUnresolvable(CallbackUrlError):
    """The callback host has no address at the moment: a DNS failure, often a passing one, rather than
    an address the guard refuses."""


def is_public_address(ip: IPAddress) -> bool:
    """True when `ip` is reachable on the public internet and not a disguised internal address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in net for net in _BLOCKED_V4)
    if ip.is_loopback or ip.is_unspecified:
        return False
    if ip in _MAPPED_V6 or ip in _TRANSLATED_V6 or ip in _COMPATIBLE_V6:
        return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if any(ip in net for net in _NAT64_V6):
        return False
    # Outside 2000::/3: link-local fe80::/10, site-local fec0::/10, unique-local fc00::/7, multicast
    # ff00::/8, discard 100::/64 and the unassigned rest.
    if ip not in _GLOBAL_UNICAST_V6 or any(ip in net for net in _BLOCKED_V6):
        return False
    if ip.sixtofour is not None:  # 2002::/16
        return is_public_address(ip.sixtofour)
    if ip.teredo is not None:  # 2001::/32: (server, client)
        return all(is_public_address(inner) for inner in ip.teredo)
    return True


def default_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection to `port`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def resolve_for_connect(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection to `port`, in getaddrinfo's order (which
    ranks them per RFC 6724 for this machine), without blocking the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _normalise_host(host: str) -> str:
    # "Example.COM." and "example.com" name the same host.
    return host.strip().lower().removesuffix(".")


def is_allowed_host(host: str, port: int | None, allowed_hosts: frozenset[str]) -> bool:
    """True when the deployment's allow-list opens `host` (any port) or `host:port`.

    With `port` None only bare host entries match: a `host:port` entry cannot be honoured blindly.
    """
    allowed = {_normalise_host(entry) for entry in allowed_hosts}
    host = _normalise_host(host).strip("[]")
    if host in allowed:
        return True
    if port is None:
        return False
    return f"{host}:{port}" in allowed or f"[{host}]:{port}" in allowed


def _parse_address(text: str) -> IPAddress | None:
    try:
        # getaddrinfo reports IPv6 link-local answers with a zone ("fe80::1%eth0"); ipaddress keeps it.
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def check_resolved(
    host: str, addresses: Iterable[str], allowed_hosts: frozenset[str], *, port: int | None = None
) -> None:
    """Raise CallbackUrlError unless `host` is allow-listed or every one of its `addresses` is public.

    Every address, not just the first, because the HTTP client may try any of them.
    """
    if is_allowed_host(host, port, allowed_hosts):
        return
    answers = list(addresses)
    if not answers:
        raise CallbackUrlError(f"callback host {host!r} resolves to no address")
    for text in answers:
        ip = _parse_address(text)
        if ip is None or not is_public_address(ip):
            raise CallbackUrlError(
                f"callback host {host!r} resolves to {text!r}, which is not a public internet address"
            )


def check_callback_url(
    url: str,
    *,
    allowed_hosts: frozenset[str],
    allow_http: bool,
    resolve: Callable[[str, int], list[str]] = default_resolver,
) -> None:
    """Raise CallbackUrlError unless `url` is a callback URL this deployment may POST to."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise CallbackUrlError("callback URL is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        expected = "https or http" if allow_http else "https"
        raise CallbackUrlError(f"callback URL must use {expected}, not {scheme or 'no scheme'!r}")
    # Credentials belong in event.notification.basic.*, which are kept sealed; in a URL they would be
    # stored and shown in the clear.
    if "@" in parts.netloc:
        raise CallbackUrlError("callback URL must not carry credentials; use the basic auth settings")
    host = parts.hostname
    if not host:
        raise CallbackUrlError("callback URL has no host")
    if port == 0:
        raise CallbackUrlError("callback URL's port must be 1 to 65535")  # nothing listens on port 0
    port = port or (443 if scheme == "https" else 80)
    if is_allowed_host(host, port, allowed_hosts):
        return
    literal = _parse_address(host)
    if literal is not None:
        if not is_public_address(literal):
            raise CallbackUrlError(f"callback host {host!r} is not a public internet address")
        return
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError; IDNA encoding fails as UnicodeError
        raise CallbackUrlError(f"callback host {host!r} cannot be resolved") from None
    check_resolved(host, addresses, frozenset())


async def addresses_to_dial(
    host: str, port: int, allowed_hosts: frozenset[str], resolve: AsyncResolver = resolve_for_connect
) -> list[str] | None:
    """The connect-time check: the vetted addresses to dial for `host`, in the resolver's order.

    None when the URL can be dialled as written: the allow-list opens the host, or it is a public IP
    literal. Otherwise the host is resolved here, once, and the caller must connect to one of the returned
    addresses rather than to the name, so that a second lookup cannot answer differently (DNS rebinding).
    Raises CallbackUrlError when the host is not to be dialled at all.
    """
    if is_allowed_host(host, port, allowed_hosts):
        return None
    literal = _parse_address(host)
    if literal is not None:
        if not is_public_address(literal):
            raise CallbackUrlError(f"callback host {host!r} is not a public internet address")
        return None
    try:
        answers = list(await resolve(host, port))
    except (OSError, UnicodeError):  # socket.gaierror is an OSError; IDNA encoding fails as UnicodeError
        raise CallbackHostUnresolvable(f"callback host {host!r} cannot be resolved") from None
    check_resolved(host, answers, frozenset(), port=port)
    return answers
