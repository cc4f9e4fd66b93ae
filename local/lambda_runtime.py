"""Invoking a handler the way the Lambda runtime does: a context object, the event and the answer
passed through JSON, one invocation at a time per execution environment.

Two kinds of function:
- `ProcessFunction`: a function's file run as Lambda runs it, each execution environment its own OS
  process (local/lambda_sandbox.py) that imports the handler once and serves one invocation at a
  time. Module globals (Powertools' Logger and Metrics, the dispatcher's batch processor) belong to
  one environment, as on Lambda; several environments serve invocations side by side; an invocation
  that outlives the timeout has its environment killed and replaced. `make local` runs these.
- `LocalFunction`: a callable in this process, one environment (invocations serialised): stand-in
  handlers in tests, and the functions themselves when a test needs to reach into their modules.

The process pool is hand-written: `sam local` needs Docker, and multiprocessing's pools neither kill
and replace a worker whose task overran nor keep its stdout apart from the answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from local import REPO_ROOT
from local._http import print_line

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


class FunctionError(Exception):
    """The invocation failed as Lambda reports it: an error type and message (the traceback went to the
    function's log)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


@runtime_checkable
class Function(Protocol):
    """What the emulated event sources invoke."""

    name: str
    concurrency: int

    def invoke(self, event: dict[str, Any]) -> Any: ...

    def stop(self) -> None: ...


class LocalFunction:
    """One Lambda function run in this process, as one execution environment.

    Invocations are serialised, as one execution environment handles one event at a time: handlers
    keep per-invocation state (Powertools Logger keys, Metrics) in module globals. The event and the
    answer go through JSON, so a handler sees what Lambda would hand it and cannot return what Lambda
    could not serialise.
    """

    concurrency = 1

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

    def stop(self) -> None:
        return


@dataclass(frozen=True)
class OutputLine:
    function: str
    stream: str  # "stdout" or "stderr"
    text: str


class FunctionOutput:
    """The functions' stdout and stderr, as CloudWatch Logs gets them: line by line, each line passed
    on to this process's stream in one piece (never two glued), and the latest kept for readers."""

    def __init__(self, keep: int = 20_000, *, echo: bool = True) -> None:
        self.echo = echo
        self._lines: deque[OutputLine] = deque(maxlen=keep)
        self._changed = threading.Condition()

    def emit(self, function: str, stream: str, text: str) -> None:
        line = OutputLine(function, stream, text.rstrip("\r\n"))
        if self.echo:
            print_line(line.text, stderr=stream == "stderr")
        with self._changed:
            self._lines.append(line)
            self._changed.notify_all()

    @property
    def lines(self) -> list[OutputLine]:
        with self._changed:
            return list(self._lines)

    def clear(self) -> None:
        with self._changed:
            self._lines.clear()

    def wait_for(self, found: Callable[[list[OutputLine]], bool], timeout: float = 30.0) -> list[OutputLine]:
        """Waits until `found(lines)` holds; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not found(list(self._lines)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the functions' output did not show it in {timeout}s")
                self._changed.wait(remaining)
            return list(self._lines)


class _EnvironmentGone(Exception):
    pass


class _Environment:
    """One execution environment: a child process serving invocations over a pipe of its own (the
    handler logs to stdout, which is passed through)."""

    def __init__(self, function: ProcessFunction) -> None:
        self.function = function
        to_child_read, self._to_child = os.pipe()
        self._from_child, from_child_write = os.pipe()
        command = [
            sys.executable,
            "-m",
            "local.lambda_sandbox",
            str(function.path),
            function.module_name,
            str(to_child_read),
            str(from_child_write),
        ]
        try:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, the repository's own module
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=function.child_environment(),
                cwd=str(REPO_ROOT),
                pass_fds=(to_child_read, from_child_write),
            )
        finally:
            os.close(to_child_read)
            os.close(from_child_write)
        self._buffer = b""
        self._pipes: list[threading.Thread] = []
        for stream, pipe in (("stdout", self.process.stdout), ("stderr", self.process.stderr)):
            thread = threading.Thread(
                target=self._pass_through,
                args=(stream, pipe),
                name=f"{function.name}-{self.process.pid}-{stream}",
                daemon=True,
            )
            thread.start()
            self._pipes.append(thread)

    def _pass_through(self, stream: str, pipe: IO[bytes] | None) -> None:
        if pipe is None:
            return
        with pipe:
            for raw in pipe:
                self.function.output.emit(self.function.name, stream, raw.decode("utf-8", "replace"))

    def invoke(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Sends one invocation and reads its answer; TimeoutError after `timeout` seconds."""
        try:
            os.write(self._to_child, (json.dumps(request) + "\n").encode())
        except OSError as error:
            raise _EnvironmentGone(str(error)) from None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([self._from_child], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise _EnvironmentGone(f"exit status {self.process.wait()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self, *, kill: bool = False) -> None:
        """Ends the child: at once (`kill`), or by closing its pipe so it exits after its invocation."""
        with contextlib.suppress(OSError):
            os.close(self._to_child)
        if kill:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self._from_child)
        for thread in self._pipes:
            thread.join(timeout=2)


class ProcessFunction:
    """A function's file served by up to `concurrency` execution environments (child processes),
    started when first needed and kept warm; an invocation waits for a free one beyond that (Lambda
    would start another: the cap keeps a laptop's memory and cores in bounds)."""

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        module_name: str = "app",
        timeout_seconds: float = 30.0,
        memory_mb: int = 512,
        concurrency: int = 1,
        environment: Mapping[str, str] | None = None,
        output: FunctionOutput | None = None,
    ) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        self.name = name
        self.path = path
        self.module_name = module_name
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.concurrency = max(1, concurrency)
        self.environment = dict(os.environ if environment is None else environment)
        self.output = output or FunctionOutput()
        self._idle: list[_Environment] = []
        self._waiting: deque[_Turn] = deque()
        self._started = 0
        self._stopped = False
        self._lock = threading.Lock()

    def child_environment(self) -> dict[str, str]:
        environment = dict(self.environment)
        # Lambda's runtime writes each line as it comes; a pipe would otherwise hold them back.
        environment["PYTHONUNBUFFERED"] = "1"
        environment["AWS_LAMBDA_FUNCTION_NAME"] = self.name
        environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(self.memory_mb)
        return environment

    @property
    def environments(self) -> int:
        """How many execution environments are running."""
        with self._lock:
            return self._started

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's answer; FunctionError when it raised, timed out or its process died."""
        request = {
            "event": event,
            "functionName": self.name,
            "memoryMb": self.memory_mb,
            "timeoutSeconds": self.timeout_seconds,
            "requestId": str(uuid.uuid4()),
        }
        environment = self._acquire()
        try:
            answer = environment.invoke(request, self.timeout_seconds)
        except TimeoutError:
            self._discard(environment, kill=True)
            message = f"Task timed out after {self.timeout_seconds:.2f} seconds"
            line = {"level": "ERROR", "message": message, "function_name": self.name}
            self.output.emit(self.name, "stdout", json.dumps({**line, "requestId": request["requestId"]}))
            raise FunctionError("Sandbox.Timedout", message) from None
        except (_EnvironmentGone, ValueError) as gone:
            self._discard(environment, kill=True)
            raise FunctionError("Runtime.ExitError", f"the execution environment ended: {gone}") from None
        except BaseException:
            self._discard(environment, kill=True)
            raise
        self._release(environment)
        if "errorType" in answer:
            raise FunctionError(str(answer["errorType"]), str(answer.get("errorMessage", "")))
        return answer.get("result")

    def stop(self) -> None:
        """Ends every idle environment; busy ones end when their invocation returns."""
        with self._lock:
            self._stopped = True
            idle, self._idle = self._idle, []
            self._started -= len(idle)
            waiting, self._waiting = list(self._waiting), deque()
        for turn in waiting:
            turn.ready.set()
        for environment in idle:
            environment.close()

    # Invocations waiting for an environment are served first come, first served: under a burst a
    # plain Condition would let some wait far longer than the rest.

    def _acquire(self) -> _Environment:
        with self._lock:
            if self._stopped:
                raise FunctionError("Runtime.Stopped", f"{self.name} is stopped")
            turn = _Turn()
            if self._waiting:
                self._waiting.append(turn)
            elif self._idle:
                return self._idle.pop()
            elif self._started < self.concurrency:
                self._started += 1
                turn.start_one = True
            else:
                self._waiting.append(turn)
        if not turn.start_one:
            turn.ready.wait()
            if turn.environment is not None:
                return turn.environment
            if not turn.start_one:
                raise FunctionError("Runtime.Stopped", f"{self.name} is stopped")
        try:
            return _Environment(self)
        except BaseException:
            self._hand_over(None)
            raise

    def _release(self, environment: _Environment) -> None:
        with self._lock:
            stopped = self._stopped
        if stopped:
            self._discard(environment, kill=False)
        else:
            self._hand_over(environment)

    def _discard(self, environment: _Environment, *, kill: bool) -> None:
        environment.close(kill=kill)
        self._hand_over(None)

    def _hand_over(self, environment: _Environment | None) -> None:
        """Gives a free environment (or, None, the room for a new one) to the first invocation waiting."""
        with self._lock:
            if self._waiting and not self._stopped:
                turn = self._waiting.popleft()
                turn.environment = environment
                turn.start_one = environment is None
            else:
                turn = None
                if environment is None or self._stopped:
                    self._started -= 1
                else:
                    self._idle.append(environment)
                    environment = None
        if turn is not None:
            turn.ready.set()
        elif environment is not None:
            environment.close()


@dataclass
class _Turn:
    ready: threading.Event = field(default_factory=threading.Event)
    environment: _Environment | None = None
    start_one: bool = False


def as_function(
    handler: Handler | Function, name: str, *, timeout_seconds: float = 30.0, memory_mb: int = 512
) -> Function:
    """A function object as is; a plain callable as an in-process `LocalFunction`."""
    if isinstance(handler, Function):
        return handler
    return LocalFunction(name, handler, timeout_seconds=timeout_seconds, memory_mb=memory_mb)
