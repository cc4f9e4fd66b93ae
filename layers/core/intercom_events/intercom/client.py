"""Intercom's REST API as the poller reads it: one page per call, so the poller can checkpoint between pages.

What Intercom really does (SPEC §7), and what this client does about it:
- rate limits come in 10-second windows, announced on every answer by ``X-RateLimit-Remaining`` and
  ``X-RateLimit-Reset`` (Unix seconds); over the limit is a 429 ``rate_limit_exceeded`` without Retry-After.
  The client waits for the window to reset (before the next call when none is left, after a 429) and
  reports every wait; a call or a wait that would run into the Lambda's deadline raises ``DeadlineReached``
  (an ``IntercomUnavailable``), which the poller takes as "out of time", not as Intercom failing.
- 5xx and network errors are retried three times (0.5, 1, 2 s), then ``IntercomUnavailable``.
- a 401 means the token was revoked: ``IntercomAuthError`` at once.
- search pages carry their cursor in ``pages.next.starting_after`` (no ``pages.next``: the end), and
  ``pages.per_page`` sometimes comes as a string; the companies scroll carries ``scroll_param`` and expires
  after a minute idle (a 404 or a 500 on a scroll_param means start again: ``ScrollExpired``).

No message raised or logged here carries the token or a request body.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ..config import settings
from ..models.instance import InstanceConfig
from ..observability import logger, tracer
from .answers import error_code, json_object
from .oauth import api_base_url

USER_AGENT = "intercom-events/0.1 (Open Connectors-compatible event poller; httpx)"
MAX_PER_PAGE = 150
REQUEST_TIMEOUT = 10.0
# Time a wait or a call must leave before the deadline, so the poller can still checkpoint.
DEADLINE_RESERVE = 5.0
SERVER_RETRY_DELAYS = (0.5, 1.0, 2.0)
# Intercom's windows last 10 s: with no X-RateLimit-Reset, wait one window; never trust a reset further out
# than this (clock skew or a bad header must not park a poller for hours when no deadline bounds it).
RATE_LIMIT_WINDOW = 10.0
MAX_RATE_LIMIT_WAIT = 60.0
MAX_RATE_LIMIT_RETRIES = 6
SCROLL_EXPIRED_CODES = frozenset({"scroll_exists", "scroll_expired", "scroll_parameter_not_found"})


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    # pages.next.starting_after for search and lists; scroll_param for the scroll; None at the end.
    next_cursor: str | None
    total_count: int | None


class IntercomError(Exception):
    """Intercom refused a call. ``code`` is Intercom's error code word (error.list); never the token."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class IntercomAuthError(IntercomError):
    """401: the token was revoked (mark the instance, raise an alarm, keep the cursor)."""


class IntercomUnavailable(IntercomError):
    """5xx or network errors after the retries, or a rate-limit wait that would pass the deadline."""


class DeadlineReached(IntercomUnavailable):
    """No time left before the caller's deadline for this call or wait: nothing failed, time ran out."""


class ScrollExpired(IntercomError):
    """The companies scroll expired or another one is open: start the scroll again."""


@lru_cache(maxsize=1)
def shared_http() -> httpx.Client:
    """One connection pool per process, reused across warm invocations and instances.

    Headers (the token among them) go on each request, never on this client, and it keeps no cookies:
    nothing one workspace's answer sets can reach another workspace's request.
    """
    return httpx.Client(
        timeout=httpx.Timeout(REQUEST_TIMEOUT),
        limits=httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=30.0),
        follow_redirects=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


class IntercomClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        version: str,
        *,
        http: httpx.Client | None = None,
        deadline: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        on_rate_limit_wait: Callable[[float], None] | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Intercom-Version": version,
            "User-Agent": USER_AGENT,
        }
        self._http = http if http is not None else shared_http()
        self._deadline = deadline
        self._sleep = sleep
        self._now = now
        self._on_rate_limit_wait = on_rate_limit_wait
        # Unix time at which the current rate-limit window resets, when the last answer left no calls.
        self._blocked_until: float | None = None

    @classmethod
    def for_instance(
        cls, instance: InstanceConfig, token: str | None = None, **options: Any
    ) -> IntercomClient:
        """The instance's region host (or INTERCOM_API_BASE_URL), its API version or the deployment's."""
        token = token or instance.access_token
        if not token:
            raise ValueError("the instance has no Intercom access token")
        version = instance.api_version or settings().intercom_api_version
        return cls(api_base_url(instance.intercom_base_url), token, version, **options)

    # ------------------------------------------------------------------ public calls

    @tracer.capture_method(capture_response=False)
    def search_page(
        self,
        resource: str,
        query: dict[str, Any],
        *,
        per_page: int = MAX_PER_PAGE,
        starting_after: str | None = None,
        sort_field: str = "updated_at",
        order: str = "ascending",
    ) -> Page:
        """POST /{resource}/search: one page, sorted, from ``starting_after`` on."""
        name = resource.strip("/").removesuffix("/search")
        pagination: dict[str, Any] = {"per_page": max(1, min(int(per_page), MAX_PER_PAGE))}
        if starting_after:
            pagination["starting_after"] = starting_after
        body = {"query": query, "pagination": pagination, "sort": {"field": sort_field, "order": order}}
        answer = self._call("POST", f"/{name}/search", json=body)
        return _page(answer, records_key=name.rsplit("/", 1)[-1])

    @tracer.capture_method(capture_response=False)
    def scroll_page(self, resource: str = "companies", scroll_param: str | None = None) -> Page:
        """GET /{resource}/scroll: the next page of the app's one open scroll; an empty page ends it."""
        name = resource.strip("/").removesuffix("/scroll")
        params = {"scroll_param": scroll_param} if scroll_param else None
        # On a scroll_param, Intercom answers an expired scroll with a 404 or a 500: start again.
        expired = frozenset({404, 500}) if scroll_param else frozenset()
        answer = self._call("GET", f"/{name}/scroll", params=params, expired_statuses=expired)
        records = _records(answer, name)
        cursor = answer.get("scroll_param")
        next_cursor = cursor if records and isinstance(cursor, str) and cursor else None
        return Page(records, next_cursor, _int(answer.get("total_count")))

    # ------------------------------------------------------------------ the request loop

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expired_statuses: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        url = self._url(path)
        where = f"{method} {urlsplit(url).path}"  # for messages and logs: no query, no body, no token
        server_retries = 0
        rate_limit_retries = 0
        while True:
            self._wait_for_window(where)
            try:
                answer = self._http.request(
                    method, url, params=params, json=json, headers=self._headers, timeout=self._timeout(where)
                )
            except httpx.RequestError as exc:
                failure = f"{type(exc).__name__} on {where}"
                server_retries = self._back_off(server_retries, failure, status=None, code="network_error")
                continue
            self._note_rate_limit(answer)
            status = answer.status_code
            body = json_object(answer)
            code = error_code(body)
            if answer.is_success:
                if body is None:
                    raise IntercomError(f"Intercom answered {where} without a JSON object", status=status)
                return body
            if status in expired_statuses or (code in SCROLL_EXPIRED_CODES and "/scroll" in where):
                raise ScrollExpired(
                    f"Intercom's scroll has expired or another is open ({status} {code or 'no code'})",
                    status=status,
                    code=code,
                )
            if status == 401:
                raise IntercomAuthError(
                    f"Intercom refused the access token on {where} (401 {code or 'unauthorized'})",
                    status=status,
                    code=code or "unauthorized",
                )
            if status == 429:
                rate_limit_retries += 1
                if rate_limit_retries > MAX_RATE_LIMIT_RETRIES:
                    raise IntercomUnavailable(
                        f"Intercom kept answering 429 on {where}", status=status, code=code
                    )
                self._wait_rate_limit(self._reset_wait(answer, floor=1.0), where, status=status, code=code)
                continue
            if status >= 500:
                failure = f"{status} {code or 'no code'} on {where}"
                server_retries = self._back_off(server_retries, failure, status=status, code=code)
                continue
            raise IntercomError(
                f"Intercom answered {status} {code or 'no code'} on {where}", status=status, code=code
            )

    def _url(self, path: str) -> str:
        if "://" in path:
            # The token goes to the instance's Intercom only, never to a host a configuration names.
            if not path.startswith(self._base_url + "/"):
                raise ValueError("an Intercom path must be relative to the instance's API base URL")
            return path
        return f"{self._base_url}/{path.lstrip('/')}"

    def _time_left(self) -> float | None:
        return None if self._deadline is None else self._deadline()

    def _timeout(self, where: str) -> httpx.Timeout:
        """The client's timeout, shortened so that a call never runs into the deadline's reserve."""
        left = self._time_left()
        if left is None:
            return self._http.timeout
        budget = left - DEADLINE_RESERVE
        if budget <= 0:
            raise DeadlineReached(f"no time left before the deadline to call {where}")
        return httpx.Timeout(min(REQUEST_TIMEOUT, budget))

    def _check_deadline(self, wait: float, failure: str, *, status: int | None, code: str | None) -> None:
        left = self._time_left()
        if left is not None and left - wait < DEADLINE_RESERVE:
            raise DeadlineReached(
                f"{failure}: waiting {wait:.1f} s would pass the deadline", status=status, code=code
            )

    def _back_off(self, retries: int, failure: str, *, status: int | None, code: str | None) -> int:
        """Sleep before the next try of a 5xx or a network error; raise once the retries are spent."""
        if retries >= len(SERVER_RETRY_DELAYS):
            raise IntercomUnavailable(
                f"Intercom unavailable after {retries} retries: {failure}", status=status, code=code
            )
        delay = SERVER_RETRY_DELAYS[retries]
        self._check_deadline(delay, failure, status=status, code=code)
        logger.warning(
            "intercom call failed, retrying",
            extra={"failure": failure, "status": status, "retry": retries + 1, "delay": delay},
        )
        self._sleep(delay)
        return retries + 1

    # ------------------------------------------------------------------ rate limits

    def _note_rate_limit(self, answer: httpx.Response) -> None:
        remaining = _int(answer.headers.get("X-RateLimit-Remaining"))
        if remaining is not None and remaining <= 0 and answer.status_code != 429:
            self._blocked_until = self._now() + self._reset_wait(answer, floor=0.0)
        else:
            self._blocked_until = None

    def _reset_wait(self, answer: httpx.Response, *, floor: float) -> float:
        reset = _float(answer.headers.get("X-RateLimit-Reset"))
        wait = RATE_LIMIT_WINDOW if reset is None else reset - self._now()
        return min(max(wait, floor), MAX_RATE_LIMIT_WAIT)

    def _wait_for_window(self, where: str) -> None:
        if self._blocked_until is None:
            return
        wait = self._blocked_until - self._now()
        if wait > 0:
            self._wait_rate_limit(wait, where, status=None, code="rate_limit_remaining_zero")
        self._blocked_until = None

    def _wait_rate_limit(self, wait: float, where: str, *, status: int | None, code: str | None) -> None:
        self._check_deadline(wait, f"Intercom's rate limit on {where}", status=status, code=code)
        logger.info("intercom rate limit wait", extra={"seconds": round(wait, 3), "call": where})
        if self._on_rate_limit_wait is not None:
            self._on_rate_limit_wait(wait)
        self._sleep(wait)


# ---------------------------------------------------------------------- reading answers


def _page(answer: dict[str, Any], *, records_key: str) -> Page:
    return Page(
        records=_records(answer, records_key),
        next_cursor=_next_cursor(answer.get("pages")),
        total_count=_int(answer.get("total_count")),
    )


def _records(answer: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """``data`` (contacts, companies, tickets…) or the resource's own key (``conversations``)."""
    for name in (key, "data"):
        value = answer.get(name)
        if isinstance(value, list):
            return [record for record in value if isinstance(record, dict)]
    for name, value in answer.items():
        if name != "errors" and isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            return list(value)
    return []


def _next_cursor(pages: Any) -> str | None:
    if not isinstance(pages, dict):
        return None
    nxt = pages.get("next")
    cursor: Any = None
    if isinstance(nxt, dict):
        cursor = nxt.get("starting_after")
    elif isinstance(nxt, str):
        # Some list endpoints give the next page as a URL: take its cursor when it has one.
        values = parse_qs(urlsplit(nxt).query).get("starting_after")
        cursor = values[0] if values else None
    return cursor if isinstance(cursor, str) and cursor else None


def _int(value: Any) -> int | None:
    """Intercom's numbers, sometimes strings ("50"); anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _float(value: Any) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
