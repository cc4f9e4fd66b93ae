"""Callback receivers that misbehave, as real servers on 127.0.0.1, for the dispatcher's tests.

Written on raw sockets: the local receiver (local/receiver.py) answers like a well-behaved HTTP/1.0
server, and these must not. Each connection runs on its own thread until the client goes away or the
server stops.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Self

LOOPBACK = "127.0.0.1"


class LoopbackServer:
    """Accepts connections and hands each to `serve(connection, stopping)`; counts what it saw."""

    def __init__(self, serve: Callable[[socket.socket, threading.Event], None]) -> None:
        self._serve = serve
        self._listener = socket.create_server((LOOPBACK, 0))
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.connections = 0  # accepted so far
        self.open_connections = 0  # accepted and not yet closed by either side
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._listener.getsockname()[1]}/callbacks"

    def start(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.open_connections += 1
            threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection: socket.socket) -> None:
        try:
            with connection:
                self._serve(connection, self._stopping)
        except OSError:
            pass  # the client went away: what a hostile receiver expects
        finally:
            with self._lock:
                self.open_connections -= 1

    def read_request(self, connection: socket.socket) -> bool:
        """Reads one request (headers and a Content-Length body); False when the client closed instead."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return False
            body += chunk
        with self._lock:
            self.requests += 1
        return True


def _wait(stopping: threading.Event, seconds: float) -> bool:
    """Sleeps; False when the server is stopping."""
    return not stopping.wait(seconds)


def healthy() -> LoopbackServer:
    """Answers 200 to every request, keeping the connection open for the next (HTTP/1.1 keep-alive)."""
    server: LoopbackServer

    def serve(connection: socket.socket, stopping: threading.Event) -> None:
        while not stopping.is_set() and server.read_request(connection):
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")

    server = LoopbackServer(serve)
    return server


def trickling(interval: float = 0.2, give_up_after: float = 60.0) -> LoopbackServer:
    """Reads the request, then sends its answer's headers one byte every `interval`, never finishing."""
    server: LoopbackServer

    def serve(connection: socket.socket, stopping: threading.Event) -> None:
        if not server.read_request(connection):
            return
        started = time.monotonic()
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1_000_000:
            if time.monotonic() - started > give_up_after or not _wait(stopping, interval):
                return
            connection.sendall(bytes([byte]))

    server = LoopbackServer(serve)
    return server


class Huge:
    """Answers `status` with a body of `size` bytes, made as it is sent (never held in memory)."""

    def __init__(self, size: int, status: int = 500) -> None:
        self.size = size
        self.status = status
        self.sent = 0
        self.server = LoopbackServer(self._serve)

    def _serve(self, connection: socket.socket, stopping: threading.Event) -> None:
        if not self.server.read_request(connection):
            return
        head = (
            f"HTTP/1.1 {self.status} Oops\r\nContent-Length: {self.size}\r\nContent-Type: text/plain\r\n\r\n"
        )
        connection.sendall(head.encode())
        chunk = b"x" * 65536
        while self.sent < self.size and not stopping.is_set():
            part = chunk[: self.size - self.sent]
            connection.sendall(part)  # raises once the client has closed the connection
            self.sent += len(part)


def hanging() -> LoopbackServer:
    """Reads the request and never answers."""
    server: LoopbackServer

    def serve(connection: socket.socket, stopping: threading.Event) -> None:
        if server.read_request(connection):
            stopping.wait()

    server = LoopbackServer(serve)
    return server
