"""What the loopback HTTP servers here share: a threaded server run in the background on 127.0.0.1."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

LOOPBACK = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    # Daemon threads: a handler still sleeping (a slow receiver) never blocks shutdown.
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a burst of clients (Intercom's retries, a benchmark)
    # would find the queue full and wait out TCP's SYN retries or be reset. API Gateway never is.
    request_queue_size = socket.SOMAXCONN
    owner: Any = None


class RequestHandler(BaseHTTPRequestHandler):
    """Routes every method, known or not, to `handle_any`; reads bodies with or without Content-Length.

    HTTP/1.0 replies close the connection after each answer, so a stopped server cannot keep
    answering on a client's pooled keep-alive connection.
    """

    protocol_version = "HTTP/1.0"
    server: _Server

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up `do_<METHOD>`; answer for all of them.
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def handle_any(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def owner(self) -> Any:
        return self.server.owner

    def log_message(self, format: str, *args: Any) -> None:
        # Silence the default access log on stderr; servers that want one log it themselves.
        return

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Skip trailers up to the blank line that ends the body.
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def send_answer(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


class BackgroundServer:
    """A ThreadingHTTPServer on 127.0.0.1 serving in a daemon thread; port 0 picks a free port."""

    def __init__(self, handler_class: type[RequestHandler], *, host: str = LOOPBACK, port: int = 0) -> None:
        self._handler_class = handler_class
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> Self:
        """Listens on the address without answering yet: connections wait in the listen queue."""
        if self._server is None:
            self._server = _Server(self._address, self._handler_class)
            self._server.owner = self
        return self

    def start(self) -> Self:
        if self._thread is None:
            self.bind()
            assert self._server is not None
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"{type(self).__name__}:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None

    @property
    def host(self) -> str:
        return self._address[0]

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def header_pairs(message: Any) -> list[tuple[str, str]]:
    """Every header of a request in order, duplicates kept (an http.client.HTTPMessage)."""
    return [(str(k), str(v)) for k, v in message.items()]


_output_lock = threading.Lock()


def print_line(text: str, *, stderr: bool = False) -> None:
    """Writes one line in one piece: print() writes the text and the newline separately, so two
    threads printing at once can glue their lines together (`}{`)."""
    stream = sys.stderr if stderr else sys.stdout
    line = text if text.endswith("\n") else text + "\n"
    with _output_lock:
        stream.write(line)
        stream.flush()
