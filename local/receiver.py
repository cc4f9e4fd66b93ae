"""A callback receiver: the integrator's endpoint, recording what the dispatcher delivers and
answering with the status codes a test scripts."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from local._http import LOOPBACK, BackgroundServer, RequestHandler, header_pairs


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived: the raw body bytes are what signatures are computed over."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    received_at: float
    # With a receiver's signature key: whether both signatures held when the request arrived
    # (Standard Webhooks refuses a timestamp five minutes old, so later is too late to check).
    verified: bool | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header of that name, case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), default)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, optional Retry-After, a delay before answering, a body.

    `hold`: answer only once this event is set (or `delay` seconds passed, when a delay is given):
    a receiver that hangs until a test lets it go."""

    status: int = 200
    retry_after: str | int | None = None
    delay: float = 0.0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())
    hold: threading.Event | None = field(default=None, compare=False)


class _ReceiverHandler(RequestHandler):
    def handle_any(self) -> None:
        receiver: CallbackReceiver = self.owner
        split = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=split.query,
            headers=header_pairs(self.headers),
            body=self.read_body(),
            received_at=time.time(),
        )
        if receiver.signature_key is not None:
            request = dataclasses.replace(request, verified=_verifies(request, receiver.signature_key))
        reply = receiver._record(request)
        if request.verified is False:
            reply = Reply(status=401)  # what an integrator answers a callback it cannot trust
        if reply.hold is not None:
            reply.hold.wait(reply.delay or None)
        elif reply.delay:
            time.sleep(reply.delay)
        headers = list(reply.headers)
        if reply.retry_after is not None:
            headers.append(("Retry-After", str(reply.retry_after)))
        # The caller may have given up first (its timeout): that is what a delay is for.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_answer(reply.status, headers, reply.body)


class CallbackReceiver(BackgroundServer):
    """Records every request; answers with the scripted replies in order, then with `default` forever.

    `signature_key`: verify both signatures of each request as it arrives (`RecordedRequest.verified`)
    and answer 401 to one that fails, as an integrator's receiver does."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = LOOPBACK,
        default: Reply | None = None,
        signature_key: str | None = None,
    ) -> None:
        super().__init__(_ReceiverHandler, host=host, port=port)
        self.signature_key = signature_key
        self._default = default or Reply()
        self._script: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._changed = threading.Condition()

    def respond_with(
        self,
        replies: Iterable[int | Reply],
        *,
        delay: float = 0.0,
        retry_after: str | int | None = None,
    ) -> None:
        """Scripts the next answers (codes or Replies); `delay` and `retry_after` apply to plain codes.

        `respond_with([500, 500, 200])` fails twice, then succeeds, then 200 forever.
        """
        with self._changed:
            self._script = deque(
                r if isinstance(r, Reply) else Reply(status=r, delay=delay, retry_after=retry_after)
                for r in replies
            )

    def respond_always(self, reply: int | Reply) -> None:
        """Changes the answer given once the script is spent (200 unless set)."""
        with self._changed:
            self._default = reply if isinstance(reply, Reply) else Reply(status=reply)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._changed:
            return list(self._requests)

    def clear(self) -> None:
        with self._changed:
            self._requests.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Blocks until at least `count` requests arrived; TimeoutError (saying how many did) otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = len(self._requests)
                    raise TimeoutError(f"{got} request(s) reached {self.url} in {timeout}s, expected {count}")
                self._changed.wait(remaining)
            return list(self._requests)

    def _record(self, request: RecordedRequest) -> Reply:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()
            return self._script.popleft() if self._script else self._default


def _verifies(request: RecordedRequest, signature_key: str) -> bool:
    try:
        verify_signatures(request, signature_key)
    except Exception:  # ValueError or standardwebhooks' WebhookVerificationError
        return False
    return True


def verify_signatures(request: RecordedRequest, signature_key: str) -> dict[str, Any]:
    """What an integrator's receiver does before trusting a callback: both schemes over the raw body.

    Raises ValueError (Open Connectors' header) or standardwebhooks' WebhookVerificationError.
    """
    import base64
    import hashlib
    import hmac

    from standardwebhooks.webhooks import Webhook

    digest = hmac.new(signature_key.encode(), request.body, hashlib.sha256).digest()
    expected = "sha256=" + base64.b64encode(digest).decode()
    if not hmac.compare_digest(request.header("elements-webhook-signature") or "", expected):
        raise ValueError("Elements-Webhook-Signature does not match")
    secret = "whsec_" + base64.b64encode(signature_key.encode()).decode()
    Webhook(secret).verify(request.body, dict(request.headers))
    body: dict[str, Any] = json.loads(request.body)
    return body
