"""The Lambda runtime's part in a cold start, played by a new process (benchmarks/lambda_layout.py runs it).

`python3.13 -I -S lambda_bootstrap.py SPEC`: the standard library only (nothing of the caller's venv),
then `sys.path` as SPEC orders it (the function's code, the layer's python/, the runtime's boto3). Then:
- "app": imports the function's `app`, calls `lambda_handler(event, context)` on each event in turn;
- "floor": imports boto3 and makes the calls of a trace that an "app" run recorded (SPEC "record"):
  the same clients, operations and parameters, and the same non-AWS HTTP requests with urllib;
- "imports": imports SPEC's modules in order, timing each (where a cold start's import time goes).
One JSON line on the file descriptor SPEC names: the answers, the peak RSS, what the import cost.
Standard library only, imported here before the timer-relevant work: both kinds pay the same for it.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import resource
import sys
import time
import uuid
from typing import Any

STARTED = time.perf_counter()


class Context:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, name: str, memory_mb: int, timeout_seconds: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/01/01/[$LATEST]bench"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def encode(value: Any) -> Any:
    """JSON for a recorded call's parameters: bytes and datetimes tagged, to be decoded for the replay."""
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime.datetime):
        return {"__datetime__": value.isoformat()}
    if hasattr(value, "read"):  # a file-like body (S3 PutObject)
        return encode(value.read())
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        if "__datetime__" in value:
            return datetime.datetime.fromisoformat(value["__datetime__"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def install_recorder(calls: list[dict[str, Any]]) -> None:
    """Records every AWS call (botocore) and every HTTP request (httpx) the function makes. Only the
    recording run installs this; the measured runs do not."""
    import botocore.client
    import httpx

    make_api_call = botocore.client.BaseClient._make_api_call

    def recorded_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append({"aws": [client.meta.service_model.service_name, operation], "params": encode(params)})
        return make_api_call(client, operation, params)

    botocore.client.BaseClient._make_api_call = recorded_api_call  # type: ignore[method-assign,assignment]

    def http_call(request: Any, body: bytes) -> dict[str, Any]:
        headers = [[k, v] for k, v in request.headers.multi_items()]
        return {"http": [request.method, str(request.url)], "headers": headers, "body": encode(body)}

    send = httpx.HTTPTransport.handle_request
    send_async = httpx.AsyncHTTPTransport.handle_async_request

    def recorded_send(transport: Any, request: Any) -> Any:
        calls.append(http_call(request, request.read()))
        return send(transport, request)

    async def recorded_send_async(transport: Any, request: Any) -> Any:
        calls.append(http_call(request, await request.aread()))
        return await send_async(transport, request)

    httpx.HTTPTransport.handle_request = recorded_send  # type: ignore[method-assign,assignment]
    httpx.AsyncHTTPTransport.handle_async_request = recorded_send_async  # type: ignore[method-assign,assignment]


def summary(answer: Any) -> Any:
    """What the parent checks: an API answer's status and body, any other answer whole (they are small)."""
    if isinstance(answer, dict) and "statusCode" in answer:
        return {"statusCode": answer["statusCode"], "body": str(answer.get("body", ""))[:4000]}
    return json.loads(json.dumps(answer, default=str))


def run_app(spec: dict[str, Any], out: dict[str, Any]) -> None:
    calls: list[dict[str, Any]] = []
    if spec.get("record"):
        install_recorder(calls)
    before = time.perf_counter()
    import app  # type: ignore[import-not-found]  # the function's code, first on sys.path

    out["import_ms"] = (time.perf_counter() - before) * 1000
    answers = []
    for path in spec["events"]:
        with open(path, encoding="utf-8") as file:
            event = json.load(file)
        context = Context(spec["function_name"], spec["memory_mb"], spec["timeout_seconds"])
        answers.append(summary(app.lambda_handler(event, context)))
    out["answers"] = answers
    if spec.get("record"):
        with open(spec["record"], "w", encoding="utf-8") as file:
            json.dump(calls, file)


def run_floor(spec: dict[str, Any], out: dict[str, Any]) -> None:
    with open(spec["trace"], encoding="utf-8") as file:
        trace = json.load(file)
    if any("http" in call for call in trace):
        import urllib.error
        import urllib.request
    before = time.perf_counter()
    import boto3
    from botocore import xform_name
    from botocore.config import Config
    from botocore.exceptions import ClientError

    out["import_ms"] = (time.perf_counter() - before) * 1000
    # As store/aws.py makes them: one Session, each client on first use, the same Config.
    session = boto3.session.Session()
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    clients: dict[str, Any] = {}
    statuses: list[Any] = []
    for call in trace:
        if "aws" in call:
            service, operation = call["aws"]
            if service not in clients:
                clients[service] = session.client(service, config=config)
            try:
                getattr(clients[service], xform_name(operation))(**decode(call["params"]))
                statuses.append("ok")
            except (
                ClientError
            ) as error:  # a conditional write the app's run already made: called all the same
                statuses.append(error.response.get("Error", {}).get("Code", "error"))
        else:
            method, url = call["http"]
            skip = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}
            headers = {k: v for k, v in call["headers"] if k.lower() not in skip}
            body = decode(call["body"]) or None
            request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - loopback peers
            try:
                with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310
                    answer.read()
                    statuses.append(answer.status)
            except urllib.error.HTTPError as error:
                error.read()
                statuses.append(error.code)
    out["answers"] = statuses
    out["calls"] = len(trace)


def peak_rss_kb() -> int:
    """The process's peak resident set. Linux keeps ru_maxrss across exec, so a child of a large parent
    reports at least the parent's peak; VmHWM belongs to the address space exec made."""
    try:
        with open("/proc/self/status", encoding="ascii") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def run_imports(spec: dict[str, Any], out: dict[str, Any]) -> None:
    """Imports spec["modules"] in order, each one's time: what each adds to what came before it."""
    import importlib

    times = []
    for name in spec["modules"]:
        before = time.perf_counter()
        importlib.import_module(name)
        times.append([name, (time.perf_counter() - before) * 1000])
    out["imports"] = times


MODES = {"app": run_app, "floor": run_floor, "imports": run_imports}


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as file:
        spec = json.load(file)
    sys.path[:0] = spec["sys_path"]
    out: dict[str, Any] = {"mode": spec["mode"]}
    MODES[spec["mode"]](spec, out)
    out["maxrss_kb"] = peak_rss_kb()
    out["inside_ms"] = (time.perf_counter() - STARTED) * 1000
    os.write(spec["result_fd"], (json.dumps(out) + "\n").encode())


if __name__ == "__main__":
    main()
