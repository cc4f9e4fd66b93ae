"""API Gateway (HTTP API, Lambda proxy integration, payload format 2.0) in front of a handler.

Hand-written because no library serves a Lambda handler this way: moto has no API Gateway data
plane and `sam local start-api` needs Docker. It follows AWS's documented format: every request
becomes a 2.0 event, the handler's answer becomes the HTTP response, and a function error is a 502
`{"message": "Internal server error"}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import time
import traceback
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local._http import LOOPBACK, BackgroundServer, RequestHandler, print_line
from local.lambda_runtime import ACCOUNT_ID, Function, FunctionError, Handler, as_function

BASE_PATH = "/elements/api-v2"
ROUTE_KEY = f"ANY {BASE_PATH}/{{proxy+}}"
API_ID = "local"
# Lambda's limit on a synchronous invocation's payload; API Gateway answers 413 above it.
MAX_EVENT_BYTES = 6 * 1024 * 1024

_INTERNAL_ERROR = json.dumps({"message": "Internal server error"}).encode()
_TOO_LARGE = json.dumps({"message": "Request Entity Too Large"}).encode()


class InvalidResponseError(ValueError):
    """The handler answered with something API Gateway cannot turn into an HTTP response."""


def build_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    server_port: int,
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """The payload 2.0 event for one request; `target` is the request line's path and query."""
    split = urlsplit(target)
    raw_path = split.path or "/"
    raw_query = split.query
    now = time.time()

    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            # 2.0 moves cookies out of the headers into their own list.
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    forwarded_for = joined.get("x-forwarded-for")
    joined["x-forwarded-for"] = f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip
    # Deployed these say https and 443; a handler building its own URLs reads them.
    joined["x-forwarded-proto"] = "http"
    joined["x-forwarded-port"] = str(server_port)
    host = joined.get("host", LOOPBACK)
    request_id = str(uuid.uuid4())
    joined.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}")

    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value

    in_base = raw_path.startswith(f"{BASE_PATH}/") and len(raw_path) > len(BASE_PATH) + 1
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": ROUTE_KEY if in_base else "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": protocol,
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": ROUTE_KEY if in_base else "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if in_base:
        event["pathParameters"] = {"proxy": raw_path[len(BASE_PATH) + 1 :]}
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def render_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body from a handler's 2.0 answer, as API Gateway reads it."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # 2.0 only: an answer without statusCode is a 200 whose JSON body is the answer itself.
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], text.encode()
    try:
        status = int(result["statusCode"])
        headers = [(str(k), _header_value(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), _header_value(v)) for v in values)
        headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
        body_text = result.get("body")
        if body_text is None:
            body = b""
        elif result.get("isBase64Encoded"):
            body = base64.b64decode(str(body_text), validate=True)
        else:
            body = str(body_text).encode()
    except (TypeError, ValueError, AttributeError, binascii.Error) as error:
        raise InvalidResponseError(str(error)) from error
    if not 100 <= status <= 599:
        raise InvalidResponseError(f"statusCode {status}")
    return status, headers, body


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _ApiHandler(RequestHandler):
    def handle_any(self) -> None:
        gateway: ApiGateway = self.owner
        started = time.monotonic()
        body = self.read_body()
        event = build_event(
            method=self.command,
            target=self.path,
            headers=[(str(k), str(v)) for k, v in self.headers.items()],
            body=body,
            source_ip=self.client_address[0],
            server_port=gateway.port,
            protocol=self.request_version,
        )
        request_id = event["requestContext"]["requestId"]
        status, headers, answer = gateway.answer(event)
        headers.append(("apigw-requestid", request_id))
        self.send_answer(status, headers, answer)
        if gateway.log_requests:
            elapsed_ms = (time.monotonic() - started) * 1000
            line = {
                "level": "INFO",
                "message": "api request",
                "method": self.command,
                "path": event["rawPath"],
                "status": status,
                "durationMs": round(elapsed_ms, 1),
                "requestId": request_id,
            }
            print_line(json.dumps(line), stderr=True)


class ApiGateway(BackgroundServer):
    """Serves `handler` (a payload 2.0 Lambda handler, or a Function) at http://127.0.0.1:<port>; port 0
    is a free one. Requests are answered side by side, up to the function's concurrency."""

    def __init__(
        self,
        handler: Handler | Function,
        *,
        port: int = 0,
        host: str = LOOPBACK,
        function_name: str = "api",
        timeout_seconds: float = 29.0,
        memory_mb: int = 512,
        log_requests: bool = False,
    ) -> None:
        super().__init__(_ApiHandler, host=host, port=port)
        self.function = as_function(
            handler, function_name, timeout_seconds=timeout_seconds, memory_mb=memory_mb
        )
        self.log_requests = log_requests

    @property
    def api_url(self) -> str:
        """The base URL of the management API: the server's URL and the base path."""
        return f"{self.url}{BASE_PATH}"

    def answer(self, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Invokes the function with `event` and turns what it returns (or raises) into an HTTP answer."""
        json_error = [("Content-Type", "application/json")]
        if len(json.dumps(event)) > MAX_EVENT_BYTES:
            return 413, json_error, _TOO_LARGE
        try:
            return render_response(self.function.invoke(event))
        except FunctionError:
            # The execution environment logged it.
            return 502, json_error, _INTERNAL_ERROR
        except Exception:
            # Like API Gateway: the caller learns nothing; the traceback goes to the function's log.
            traceback.print_exc(file=sys.stderr)
            return 502, json_error, _INTERNAL_ERROR
