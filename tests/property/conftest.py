"""What the property tests share: no real DNS, whatever the fuzzing puts in a callback URL; a local
stack that does not see the instances of the one before it."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def loopback_dns_only() -> Iterator[None]:
    """Callback hosts are resolved when an instance is saved: random ones must not reach a DNS server.
    Loopback still resolves (moto, the simulated Intercom and the API all listen there)."""
    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        try:
            literal = ipaddress.ip_address(str(host).strip("[]"))
        except ValueError:
            literal = None
        if host == "localhost" or (literal is not None and literal.is_loopback):
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "no DNS in the property tests")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", loopback_only)
        yield


@pytest.fixture
def offline() -> Iterator[None]:
    with loopback_dns_only():
        yield
