"""What the property tests share: Hypothesis profiles, no real DNS, whatever the fuzzing puts in a
callback URL; a local stack that does not see the instances of the one before it."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest
from hypothesis import settings

# CI runs the same examples on every run (`derandomize`), keeps no example database between runs, and
# prints the blob that replays a failure; a developer's runs explore new examples each time and replay
# the failures they found first. `.ci/run` picks the profile; CI=true alone does too.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


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
