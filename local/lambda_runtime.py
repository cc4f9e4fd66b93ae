"""Invoking a handler the way the Lambda runtime does, in-process: a context object, the event and
the answer passed through JSON, and one invocation at a time per function."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the runtime's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One Lambda function run in this process.

    Invocations are serialised, as one execution environment handles one event at a time: handlers
    keep per-invocation state (Powertools Logger keys, Metrics) in module globals. The event and the
    answer go through JSON, so a handler sees what Lambda would hand it and cannot return what Lambda
    could not serialise.
    """

    def __init__(
        self, name: str, handler: Handler, *, timeout_seconds: float = 30.0, memory_mb: int = 512
    ) -> None:
        self.name = name
        self.handler = handler
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Runs the handler on a copy of the event; the handler's exception propagates (a function error)."""
        payload = json.loads(json.dumps(event))
        context = LambdaContext(self.name, self.memory_mb, self.timeout_seconds)
        with self._lock:
            result = self.handler(payload, context)
        return json.loads(json.dumps(result))
