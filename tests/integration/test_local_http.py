"""Every loopback server of the local stack takes a burst of connections as API Gateway does: none is
refused or left to TCP's retries while the server gets round to accepting them."""

from __future__ import annotations

import select
import socket
from collections.abc import Callable

import pytest

from local._http import BackgroundServer
from local.apigateway import ApiGateway
from local.intercom import SimulatedIntercom
from local.receiver import CallbackReceiver

BURST = 64  # twice the benchmark's concurrency; socketserver's default listen backlog is 5
# TCP resends an unanswered SYN after one second: a connection the listen queue had no room for is
# still unconnected before then, one it took is connected at once (loopback).
BEFORE_SYN_RETRY = 0.5

SERVERS: dict[str, Callable[[], BackgroundServer]] = {
    "api gateway": lambda: ApiGateway(lambda event, context: {"statusCode": 200, "body": "ok"}),
    "callback receiver": CallbackReceiver,
    "simulated intercom": SimulatedIntercom,
}


def connect_all(port: int) -> list[socket.socket]:
    clients = []
    for _ in range(BURST):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        clients.append(client)
    return clients


@pytest.mark.parametrize("make", SERVERS.values(), ids=SERVERS.keys())
def test_a_burst_of_connections_waits_in_the_listen_queue_and_is_answered(make):
    server = make().bind()  # listening, not yet accepting: the burst arrives faster than accept()
    clients = connect_all(server.port)
    try:
        pending = set(clients)
        while pending:
            _, writable, _ = select.select([], list(pending), [], BEFORE_SYN_RETRY)
            if not writable:
                break
            pending -= set(writable)
        errors = [c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) for c in clients if c not in pending]

        assert len(pending) == 0, f"{len(pending)} of {BURST} connections found the listen queue full"
        assert errors == [0] * BURST

        server.start()
        for client in clients:
            client.setblocking(True)
            client.settimeout(30)
            client.sendall(b"HEAD /elements/api-v2/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        answers = [client.recv(12) for client in clients]
        assert all(answer.startswith(b"HTTP/1.0 ") for answer in answers)
    finally:
        for client in clients:
            client.close()
        server.stop()
