"""A simulated Intercom on loopback: the OAuth token exchange, `GET /me`, the REST endpoints the poller
calls, and a notification sender that signs as Intercom does.

A `Workspace` (in `local.intercom_workspace`) holds one Intercom app's data and the semantics of its
search, lists and scroll; `SimulatedIntercom` owns the workspaces, OAuth apps, codes and tokens, and
routes each request to one of its methods marked `@route(METHOD, path regex)`. An authenticated
route receives the caller's workspace on the request; the rate limit (10-second windows per app, as
Intercom) and scripted failures (`fail_next`) apply to those routes. A workspace raises
`IntercomError`; the route answers it as Intercom's `error.list`.

REST endpoints: `POST /contacts/search`, `/conversations/search`, `/tickets/search`; `GET /contacts`,
`GET /conversations`; `GET /<resource>/<id>`; `GET /companies/scroll`; `POST /companies/list`.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
from intercom_events.intercom.signature import hub_signature

from local._http import LOOPBACK, BackgroundServer, RequestHandler, header_pairs
from local.intercom_workspace import RESOURCES, IntercomError, ManualClock, Resource, Workspace
from local.receiver import RecordedRequest

__all__ = [
    "IntercomError",
    "IntercomRequest",
    "IntercomResponse",
    "ManualClock",
    "OAuthApp",
    "SimulatedIntercom",
    "Workspace",
    "check_webhook_url",
    "error_list",
    "make_notification",
    "route",
    "send_webhook",
]

WEBHOOK_USER_AGENT = "Intercom-Webhooks-Bot"
RATE_LIMIT_WINDOW_SECONDS = 10
# Intercom's default of 10,000 calls a minute per app, spread over 10-second windows.
DEFAULT_RATE_LIMIT_PER_WINDOW = 1666


# --- signing and sending notifications, as Intercom does ------------------------------------------------


def notification_body(notification: dict[str, Any] | bytes | str) -> bytes:
    """The raw body Intercom would post: compact JSON for a dict, anything else byte for byte."""
    if isinstance(notification, bytes):
        return notification
    if isinstance(notification, str):
        return notification.encode()
    return json.dumps(notification, separators=(",", ":"), ensure_ascii=False).encode()


def send_webhook(
    url: str,
    notification: dict[str, Any] | bytes | str,
    client_secret: str,
    *,
    signature: str | None = None,
    extra_headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> httpx.Response:
    """Posts a notification as Intercom does and returns the answer.

    `signature` overrides the computed `X-Hub-Signature` (to test a wrong one); Intercom waits 5 s.
    """
    body = notification_body(notification)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": WEBHOOK_USER_AGENT,
        "X-Hub-Signature": signature if signature is not None else hub_signature(body, client_secret),
        **(extra_headers or {}),
    }
    return httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)


def check_webhook_url(url: str, *, timeout: float = 5.0) -> httpx.Response:
    """The HEAD Intercom sends to a webhook URL before it saves it."""
    return httpx.head(url, headers={"User-Agent": WEBHOOK_USER_AGENT}, timeout=timeout)


def make_notification(
    topic: str,
    item: dict[str, Any],
    *,
    app_id: str,
    notification_id: str | None = None,
    created_at: int | None = None,
) -> dict[str, Any]:
    """A `notification_event` in Intercom's 2.x shape around `item`."""
    now = int(time.time()) if created_at is None else created_at
    return {
        "type": "notification_event",
        "app_id": app_id,
        "data": {"type": "notification_event_data", "item": item},
        "links": {},
        "id": notification_id or f"notif_{uuid.uuid4()}",
        "topic": topic,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": now,
        "created_at": now,
        "self": None,
    }


# --- the data ------------------------------------------------------------------------------------------


@dataclass
class OAuthApp:
    """An app in Intercom's Developer Hub: its client id and the secret that also signs its webhooks."""

    client_id: str
    client_secret: str
    name: str = "Intercom Events (local)"


# --- the server ----------------------------------------------------------------------------------------


@dataclass
class IntercomRequest:
    method: str
    path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    workspace: Workspace | None = None
    token: str | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), default)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def fields(self) -> dict[str, str]:
        """A form or JSON body as flat fields (the token exchange accepts both)."""
        content_type = (self.header("Content-Type") or "").lower()
        if "json" in content_type:
            data = self.json()
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class IntercomResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def error_list(status: int, code: str, message: str) -> IntercomResponse:
    """Intercom's error answer: `{"type": "error.list", "request_id": ..., "errors": [{code, message}]}`."""
    errors = [{"code": code, "message": message}]
    body = {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": errors}
    return IntercomResponse(status, body)


# A record id in a path: anything but the names of the endpoints beside it.
_RECORD_ID = r"(?!search$|scroll$|list$)[^/]+"

# Any (self, request) method; `...` lets a subclass's methods qualify.
RouteMethod = Callable[..., IntercomResponse]
_F = TypeVar("_F", bound=RouteMethod)


def route(method: str, pattern: str, *, auth: bool = True) -> Callable[[_F], _F]:
    """Marks a SimulatedIntercom method as the answer to `method` on paths matching `pattern`.

    Named groups in `pattern` arrive as `request.params`; with `auth`, a valid bearer token is
    required and its workspace arrives as `request.workspace`.
    """

    def mark(function: _F) -> _F:
        function._intercom_route = (method.upper(), re.compile(pattern), auth)  # type: ignore[attr-defined]
        return function

    return mark


class _IntercomHandler(RequestHandler):
    def handle_any(self) -> None:
        intercom: SimulatedIntercom = self.owner
        split = urlsplit(self.path)
        request = IntercomRequest(
            method=self.command,
            path=split.path,
            raw_query=split.query,
            headers=header_pairs(self.headers),
            body=self.read_body(),
        )
        response = intercom.dispatch(request)
        body = b"" if response.body is None else json.dumps(response.body).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
        self.send_answer(response.status, list(headers.items()), body)


class SimulatedIntercom(BackgroundServer):
    """Intercom's API on http://127.0.0.1:<port>, with one workspace ready (`workspace`)."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = LOOPBACK,
        rate_limit_per_window: int = DEFAULT_RATE_LIMIT_PER_WINDOW,
    ) -> None:
        super().__init__(_IntercomHandler, host=host, port=port)
        self._lock = threading.RLock()
        self.workspaces: dict[str, Workspace] = {}
        self.apps: dict[str, OAuthApp] = {}
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (client id, workspace app id)
        self._tokens: dict[str, str] = {}  # token -> workspace app id
        self._requests: list[RecordedRequest] = []
        self._failures: deque[int] = deque()
        self.rate_limit_per_window = rate_limit_per_window
        # The time rate-limit windows are counted in (X-RateLimit-Reset is Unix time); a test may swap it.
        self.clock: Callable[[], float] = time.time
        self._windows: dict[str, tuple[int, int]] = {}  # app id -> (window start, calls in it)
        self.workspace = self.add_workspace()
        self._routes = self._collect_routes()

    # --- what a test or the demo sets up ---------------------------------------------------------------

    def add_workspace(self, app_id: str | None = None, **attributes: Any) -> Workspace:
        workspace = Workspace(app_id=app_id or secrets.token_hex(4), **attributes)
        with self._lock:
            self.workspaces[workspace.app_id] = workspace
        return workspace

    def register_app(
        self, client_id: str | None = None, client_secret: str | None = None, *, name: str = "Intercom Events"
    ) -> OAuthApp:
        app = OAuthApp(client_id or str(uuid.uuid4()), client_secret or str(uuid.uuid4()), name)
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def authorize(
        self, client_id: str, *, workspace: Workspace | None = None, code: str | None = None
    ) -> str:
        """What the consent page does when an admin installs the app: an authorization code, usable once."""
        code = code or secrets.token_urlsafe(16)
        with self._lock:
            if client_id not in self.apps:
                raise KeyError(f"no app with client id {client_id!r}; register_app first")
            self._codes[code] = (client_id, (workspace or self.workspace).app_id)
        return code

    def issue_token(self, workspace: Workspace | None = None, token: str | None = None) -> str:
        """An access token for a workspace, as a private app's Developer Hub page shows one."""
        token = token or f"dG9rOj{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = (workspace or self.workspace).app_id
        return token

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def set_rate_limit(self, per_window: int) -> None:
        """Calls allowed per app in each 10-second window, from the next call on."""
        with self._lock:
            self.rate_limit_per_window = per_window

    def fail_next(self, *statuses: int) -> None:
        """The next authenticated calls answer these statuses (a 429 as Intercom's: no Retry-After)."""
        with self._lock:
            self._failures.extend(statuses)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    # --- routing ---------------------------------------------------------------------------------------

    def _collect_routes(self) -> list[tuple[str, re.Pattern[str], bool, Callable[[IntercomRequest], Any]]]:
        # Class attributes only (properties such as `port` fail before start); a subclass's override wins.
        seen: dict[str, Any] = {}
        for klass in type(self).__mro__:
            for name, attribute in vars(klass).items():
                if name not in seen and hasattr(attribute, "_intercom_route"):
                    seen[name] = attribute
        return [(*attribute._intercom_route, getattr(self, name)) for name, attribute in seen.items()]

    def dispatch(self, request: IntercomRequest) -> IntercomResponse:
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    request.raw_query,
                    request.headers,
                    request.body,
                    time.time(),
                )
            )
        path_matched = False
        for method, pattern, auth, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if not match:
                continue
            path_matched = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            if not auth:
                return handler(request)
            return self._authenticated(request, handler)
        if path_matched:
            return error_list(405, "method_not_allowed", f"{request.method} is not allowed here")
        return error_list(404, "not_found", "Resource Not Found")

    def _authenticated(
        self, request: IntercomRequest, handler: Callable[[IntercomRequest], IntercomResponse]
    ) -> IntercomResponse:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        with self._lock:
            app_id = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if app_id is None:
                return error_list(401, "unauthorized", "Access Token Invalid")
            limit_headers, over_limit = self._count_call(app_id)
            failure = self._failures.popleft() if self._failures else None
        if over_limit or failure == 429:
            response = error_list(429, "rate_limit_exceeded", "Rate limit exceeded")
        elif failure is not None:
            response = error_list(failure, "server_error", "Server Error")
        else:
            request.token = token.strip()
            request.workspace = self.workspaces[app_id]
            try:
                response = handler(request)
            except IntercomError as error:
                response = error_list(error.status, error.code, error.message)
        response.headers = {**limit_headers, **response.headers}
        return response

    def _count_call(self, app_id: str) -> tuple[dict[str, str], bool]:
        now = int(self.clock())
        start = now - now % RATE_LIMIT_WINDOW_SECONDS
        window_start, calls = self._windows.get(app_id, (0, 0))
        calls = calls + 1 if window_start == start else 1
        self._windows[app_id] = (start, calls)
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit_per_window),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit_per_window - calls)),
            "X-RateLimit-Reset": str(start + RATE_LIMIT_WINDOW_SECONDS),
        }
        return headers, calls > self.rate_limit_per_window

    # --- the endpoints ---------------------------------------------------------------------------------

    @route("POST", r"/auth/eagle/token", auth=False)
    def token_exchange(self, request: IntercomRequest) -> IntercomResponse:
        try:
            fields = request.fields()
        except (ValueError, UnicodeDecodeError):
            return error_list(400, "parameter_invalid", "Body is not valid JSON")
        missing = [name for name in ("code", "client_id", "client_secret") if not fields.get(name)]
        if missing:
            return error_list(400, "parameter_not_found", f"Missing parameter(s): {', '.join(missing)}")
        with self._lock:
            app = self.apps.get(fields["client_id"])
            if app is None or not hmac.compare_digest(app.client_secret, fields["client_secret"]):
                return error_list(401, "invalid_client", "Client authentication failed")
            grant = self._codes.get(fields["code"])
            if grant is None or grant[0] != app.client_id:
                return error_list(400, "invalid_grant", "The authorization code is invalid or already used")
            del self._codes[fields["code"]]
            token = self.issue_token(self.workspaces[grant[1]])
        # Intercom answers with `token` and, lately, `access_token` too; its tokens do not expire.
        return IntercomResponse(200, {"token": token, "access_token": token, "token_type": "Bearer"})

    @route("GET", r"/oauth", auth=False)
    def consent(self, request: IntercomRequest) -> IntercomResponse:
        """The consent page, already agreed to: back to `redirect_uri` with a code and the state."""
        query = {name: values[0] for name, values in request.query.items()}
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id not in self.apps or not redirect_uri:
            return error_list(400, "parameter_invalid", "Unknown client_id or missing redirect_uri")
        code = self.authorize(client_id)
        separator = "&" if "?" in redirect_uri else "?"
        location = f"{redirect_uri}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"
        return IntercomResponse(302, None, {"Location": location})

    @route("GET", r"/me")
    def me(self, request: IntercomRequest) -> IntercomResponse:
        return IntercomResponse(200, _workspace(request).me())

    # --- the REST endpoints the poller calls -----------------------------------------------------------

    @route("POST", r"/(?P<resource>contacts|conversations|tickets)/search")
    def search(self, request: IntercomRequest) -> IntercomResponse:
        workspace = _workspace(request)
        body = _json_body(request)
        version = request.header("Intercom-Version")
        return IntercomResponse(200, workspace.search(_resource(request), body, version=version))

    @route("GET", r"/(?P<resource>contacts|conversations)")
    def list_records(self, request: IntercomRequest) -> IntercomResponse:
        query = _first_values(request)
        page = _workspace(request).list_page(
            _resource(request), per_page=query.get("per_page"), starting_after=query.get("starting_after")
        )
        return IntercomResponse(200, page)

    @route(
        "GET", r"/(?P<resource>contacts|conversations|companies|tickets)/(?P<record_id>" + _RECORD_ID + ")"
    )
    def get_record(self, request: IntercomRequest) -> IntercomResponse:
        try:
            record = _workspace(request).get(_resource(request), request.params["record_id"])
        except KeyError:
            return error_list(404, "not_found", "Resource Not Found")
        return IntercomResponse(200, record)

    @route("GET", r"/companies/scroll")
    def companies_scroll(self, request: IntercomRequest) -> IntercomResponse:
        scroll_param = _first_values(request).get("scroll_param")
        return IntercomResponse(200, _workspace(request).scroll(scroll_param))

    @route("POST", r"/companies/list")
    def companies_list(self, request: IntercomRequest) -> IntercomResponse:
        # Intercom takes page, per_page and order in the query string, even on this POST.
        query = _first_values(request)
        page = _workspace(request).companies_page(
            page=query.get("page"), per_page=query.get("per_page"), order=query.get("order")
        )
        return IntercomResponse(200, page)


def _workspace(request: IntercomRequest) -> Workspace:
    assert request.workspace is not None, "an authenticated route always has a workspace"
    return request.workspace


def _resource(request: IntercomRequest) -> Resource:
    resource = request.params["resource"]
    assert resource in RESOURCES, "the route's pattern names only resources"
    return cast(Resource, resource)


def _first_values(request: IntercomRequest) -> dict[str, str]:
    return {name: values[0] for name, values in request.query.items() if values}


def _json_body(request: IntercomRequest) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise IntercomError(400, "parameter_invalid", "Body is not valid JSON") from None
