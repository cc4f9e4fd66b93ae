"""The Intercom REST client against httpx.MockTransport: pages, cursors, rate limits, retries, errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from intercom_events.config import settings
from intercom_events.intercom.client import (
    DeadlineReached,
    IntercomAuthError,
    IntercomClient,
    IntercomError,
    IntercomUnavailable,
    ScrollExpired,
    shared_http,
)
from intercom_events.models.instance import InstanceConfig

BASE = "https://api.intercom.test"
TOKEN = "dG9rOmFiY2RlZl9zZWNyZXRfdG9rZW4="
VERSION = "2.15"
T0 = 1_700_000_000.0
QUERY = {"field": "updated_at", "operator": ">", "value": 1699990000}

Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    """Fake time: sleeping moves it forward; every sleep is recorded."""

    def __init__(self, start: float = T0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class Recorder:
    """Answers requests in turn (the last one repeats) and keeps what was sent."""

    def __init__(self, *answers: httpx.Response | Handler | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    def body(self, index: int = 0) -> dict[str, Any]:
        return json.loads(self.requests[index].content)


def ok(body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body, headers=headers)


def error(status: int, code: str, message: str = "Something went wrong", **headers: str) -> httpx.Response:
    body = {"type": "error.list", "request_id": "req-1", "errors": [{"code": code, "message": message}]}
    return httpx.Response(status, json=body, headers=headers)


def search_answer(ids: list[str], *, next_cursor: str | None = None, per_page: Any = 150) -> dict[str, Any]:
    pages: dict[str, Any] = {"type": "pages", "page": 1, "per_page": per_page, "total_pages": 2}
    if next_cursor:
        pages["next"] = {"page": 2, "starting_after": next_cursor}
    data = [{"type": "contact", "id": i, "updated_at": 1700000000} for i in ids]
    return {"type": "list", "data": data, "total_count": 7, "pages": pages}


def scroll_answer(ids: list[str], scroll_param: str = "scroll-abc") -> dict[str, Any]:
    data = [{"type": "company", "id": i} for i in ids]
    return {"type": "list", "data": data, "pages": None, "total_count": None, "scroll_param": scroll_param}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_client(
    recorder: Recorder,
    clock: Clock,
    *,
    time_left: float | None = None,
    waits: list[float] | None = None,
) -> IntercomClient:
    end = None if time_left is None else clock.t + time_left
    return IntercomClient(
        BASE,
        TOKEN,
        VERSION,
        http=httpx.Client(transport=httpx.MockTransport(recorder)),
        deadline=None if end is None else (lambda: end - clock.now()),
        sleep=clock.sleep,
        now=clock.now,
        on_rate_limit_wait=None if waits is None else waits.append,
    )


# ---------------------------------------------------------------- requests


def test_every_call_carries_the_bearer_token_version_and_json_accept(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer(["1"])))
    make_client(recorder, clock).search_page("contacts", QUERY)
    headers = recorder.requests[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Intercom-Version"] == VERSION
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("intercom-events/")


def test_search_posts_to_the_resource_search_path(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer([])))
    make_client(recorder, clock).search_page("conversations", QUERY)
    assert recorder.requests[0].method == "POST"
    assert str(recorder.requests[0].url) == f"{BASE}/conversations/search"


def test_search_body_has_query_pagination_and_sort(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer([])))
    make_client(recorder, clock).search_page("contacts", QUERY, per_page=50, starting_after="cur-1")
    assert recorder.body() == {
        "query": QUERY,
        "pagination": {"per_page": 50, "starting_after": "cur-1"},
        "sort": {"field": "updated_at", "order": "ascending"},
    }


def test_first_search_page_sends_no_starting_after(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer([])))
    make_client(recorder, clock).search_page("contacts", QUERY)
    assert recorder.body()["pagination"] == {"per_page": 150}


def test_per_page_is_capped_at_150(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer([])))
    make_client(recorder, clock).search_page("contacts", QUERY, per_page=500)
    assert recorder.body()["pagination"]["per_page"] == 150


# ---------------------------------------------------------------- pages


def test_search_page_returns_records_and_the_next_cursor(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer(["1", "2"], next_cursor="WyJuZXh0Il0=")))
    page = make_client(recorder, clock).search_page("contacts", QUERY)
    assert [r["id"] for r in page.records] == ["1", "2"]
    assert page.next_cursor == "WyJuZXh0Il0="
    assert page.total_count == 7


def test_no_pages_next_means_the_last_page(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer(["1"])))
    assert make_client(recorder, clock).search_page("contacts", QUERY).next_cursor is None


def test_conversation_search_records_come_from_their_own_key(clock: Clock) -> None:
    body = {
        "type": "conversation.list",
        "pages": {"type": "pages", "page": 1, "per_page": 5, "total_pages": 1},
        "total_count": 1,
        "conversations": [{"type": "conversation", "id": "515"}],
    }
    page = make_client(Recorder(ok(body)), clock).search_page("conversations", QUERY)
    assert [r["id"] for r in page.records] == ["515"]


def test_a_page_whose_per_page_is_a_string_reads_as_any_other(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer(["1"], next_cursor="c2", per_page="50")))
    page = make_client(recorder, clock).search_page("contacts", QUERY)
    assert [r["id"] for r in page.records] == ["1"]
    assert page.next_cursor == "c2"


def test_a_missing_total_count_is_none(clock: Clock) -> None:
    body = search_answer(["1"])
    del body["total_count"]
    assert make_client(Recorder(ok(body)), clock).search_page("contacts", QUERY).total_count is None


def test_a_resource_naming_another_host_is_refused_before_any_request(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer([])))
    with pytest.raises(ValueError):
        make_client(recorder, clock).search_page("https://elsewhere.example/contacts", QUERY)
    assert recorder.requests == []


# ---------------------------------------------------------------- rate limits


def test_no_calls_left_waits_until_the_reset_before_the_next_call(clock: Clock) -> None:
    headers = {
        "X-RateLimit-Limit": "166",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(T0) + 7),
    }
    recorder = Recorder(ok(search_answer(["1"], next_cursor="c2"), **headers), ok(search_answer(["2"])))
    waits: list[float] = []
    client = make_client(recorder, clock, waits=waits)
    client.search_page("contacts", QUERY)
    assert clock.sleeps == []
    client.search_page("contacts", QUERY, starting_after="c2")
    assert clock.sleeps == [7.0]
    assert waits == [7.0]


def test_calls_left_in_the_window_mean_no_wait(clock: Clock) -> None:
    headers = {"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": str(int(T0) + 7)}
    recorder = Recorder(ok(search_answer(["1"]), **headers))
    client = make_client(recorder, clock)
    client.search_page("contacts", QUERY)
    client.search_page("contacts", QUERY)
    assert clock.sleeps == []


def test_429_waits_until_the_reset_and_retries(clock: Clock) -> None:
    recorder = Recorder(
        error(
            429,
            "rate_limit_exceeded",
            **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(T0) + 4)},
        ),
        ok(search_answer(["1"])),
    )
    waits: list[float] = []
    page = make_client(recorder, clock, waits=waits).search_page("contacts", QUERY)
    assert [r["id"] for r in page.records] == ["1"]
    assert len(recorder.requests) == 2
    assert clock.sleeps == [4.0]
    assert waits == [4.0]


def test_429_without_a_reset_header_waits_one_window(clock: Clock) -> None:
    recorder = Recorder(error(429, "rate_limit_exceeded"), ok(search_answer([])))
    waits: list[float] = []
    make_client(recorder, clock, waits=waits).search_page("contacts", QUERY)
    assert waits == [10.0]


def test_a_429_wait_beyond_the_deadline_raises_unavailable(clock: Clock) -> None:
    recorder = Recorder(error(429, "rate_limit_exceeded", **{"X-RateLimit-Reset": str(int(T0) + 8)}))
    client = make_client(recorder, clock, time_left=12.0)
    with pytest.raises(DeadlineReached) as caught:  # the poller's "out of time", an IntercomUnavailable
        client.search_page("contacts", QUERY)
    assert isinstance(caught.value, IntercomUnavailable) and caught.value.status == 429
    assert clock.sleeps == []
    assert len(recorder.requests) == 1


def test_a_window_wait_beyond_the_deadline_raises_unavailable(clock: Clock) -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(T0) + 9)}
    recorder = Recorder(ok(search_answer(["1"], next_cursor="c2"), **headers))
    client = make_client(recorder, clock, time_left=13.0)
    client.search_page("contacts", QUERY)
    with pytest.raises(DeadlineReached):
        client.search_page("contacts", QUERY, starting_after="c2")
    assert clock.sleeps == []
    assert len(recorder.requests) == 1


def test_no_time_left_raises_unavailable_without_calling(clock: Clock) -> None:
    recorder = Recorder(ok(search_answer([])))
    with pytest.raises(DeadlineReached):
        make_client(recorder, clock, time_left=3.0).search_page("contacts", QUERY)
    assert recorder.requests == []


# ---------------------------------------------------------------- server and network errors


def test_two_server_errors_then_success_returns_the_page(clock: Clock) -> None:
    recorder = Recorder(
        error(500, "server_error"), error(503, "service_unavailable"), ok(search_answer(["1"]))
    )
    page = make_client(recorder, clock).search_page("contacts", QUERY)
    assert [r["id"] for r in page.records] == ["1"]
    assert clock.sleeps == [0.5, 1.0]


def test_server_errors_after_three_retries_raise_unavailable(clock: Clock) -> None:
    recorder = Recorder(error(500, "server_error"))
    with pytest.raises(IntercomUnavailable) as caught:
        make_client(recorder, clock).search_page("contacts", QUERY)
    assert not isinstance(caught.value, DeadlineReached)  # Intercom failed; time did not run out
    assert len(recorder.requests) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert caught.value.status == 500


def test_network_errors_are_retried(clock: Clock) -> None:
    recorder = Recorder(httpx.ConnectError("connection refused"), ok(search_answer(["1"])))
    page = make_client(recorder, clock).search_page("contacts", QUERY)
    assert len(page.records) == 1
    assert clock.sleeps == [0.5]


def test_server_error_backoff_beyond_the_deadline_raises_unavailable(clock: Clock) -> None:
    recorder = Recorder(error(502, "bad_gateway"), ok(search_answer([])))
    with pytest.raises(IntercomUnavailable):
        make_client(recorder, clock, time_left=5.2).search_page("contacts", QUERY)
    assert clock.sleeps == []


def test_rate_limit_waits_are_not_reported_for_server_backoff(clock: Clock) -> None:
    waits: list[float] = []
    recorder = Recorder(error(500, "server_error"), ok(search_answer([])))
    make_client(recorder, clock, waits=waits).search_page("contacts", QUERY)
    assert waits == []


# ---------------------------------------------------------------- refusals


def test_401_raises_auth_error_at_once(clock: Clock) -> None:
    recorder = Recorder(error(401, "unauthorized", "Access Token Invalid"))
    with pytest.raises(IntercomAuthError) as caught:
        make_client(recorder, clock).search_page("contacts", QUERY)
    assert len(recorder.requests) == 1
    assert caught.value.status == 401
    assert caught.value.code == "unauthorized"


def test_401_message_never_carries_the_token(clock: Clock) -> None:
    recorder = Recorder(error(401, "unauthorized", f"token {TOKEN} revoked"))
    with pytest.raises(IntercomAuthError) as caught:
        make_client(recorder, clock).search_page("contacts", QUERY)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)


def test_400_raises_intercom_error_with_intercoms_code(clock: Clock) -> None:
    recorder = Recorder(error(400, "parameter_invalid", "Unsupported operator >= for field"))
    with pytest.raises(IntercomError) as caught:
        make_client(recorder, clock).search_page("contacts", QUERY)
    assert type(caught.value) is IntercomError
    assert caught.value.code == "parameter_invalid"
    assert caught.value.status == 400
    assert len(recorder.requests) == 1


def test_error_messages_carry_neither_the_request_body_nor_the_answers_text(clock: Clock) -> None:
    query = {"field": "email", "operator": "=", "value": "secret-person@example.com"}
    recorder = Recorder(error(400, "parameter_invalid", "bad value secret-person@example.com"))
    with pytest.raises(IntercomError) as caught:
        make_client(recorder, clock).search_page("contacts", query)
    assert "secret-person" not in str(caught.value)


# ---------------------------------------------------------------- the companies scroll


def test_scroll_starts_without_a_param_and_returns_the_next_one(clock: Clock) -> None:
    recorder = Recorder(ok(scroll_answer(["c1", "c2"], scroll_param="scroll-1")))
    page = make_client(recorder, clock).scroll_page()
    assert recorder.requests[0].method == "GET"
    assert recorder.requests[0].url.path == "/companies/scroll"
    assert "scroll_param" not in recorder.requests[0].url.params
    assert [r["id"] for r in page.records] == ["c1", "c2"]
    assert page.next_cursor == "scroll-1"


def test_scroll_sends_the_scroll_param(clock: Clock) -> None:
    recorder = Recorder(ok(scroll_answer(["c3"], scroll_param="scroll-1")))
    make_client(recorder, clock).scroll_page("companies", "scroll-1")
    assert recorder.requests[0].url.params["scroll_param"] == "scroll-1"


def test_an_empty_scroll_page_ends_the_scroll(clock: Clock) -> None:
    recorder = Recorder(ok(scroll_answer([], scroll_param="scroll-1")))
    page = make_client(recorder, clock).scroll_page("companies", "scroll-1")
    assert page.records == []
    assert page.next_cursor is None


def test_404_on_a_scroll_param_means_the_scroll_expired(clock: Clock) -> None:
    recorder = Recorder(error(404, "not_found", "Resource Not Found"))
    with pytest.raises(ScrollExpired):
        make_client(recorder, clock).scroll_page("companies", "scroll-old")


def test_500_on_a_scroll_param_means_start_again_without_retrying(clock: Clock) -> None:
    recorder = Recorder(error(500, "server_error"))
    with pytest.raises(ScrollExpired):
        make_client(recorder, clock).scroll_page("companies", "scroll-old")
    assert len(recorder.requests) == 1
    assert clock.sleeps == []


def test_scroll_exists_raises_scroll_expired(clock: Clock) -> None:
    recorder = Recorder(error(400, "scroll_exists", "scroll already exists for this workspace"))
    with pytest.raises(ScrollExpired) as caught:
        make_client(recorder, clock).scroll_page()
    assert caught.value.code == "scroll_exists"


def test_500_on_a_new_scroll_is_retried_like_any_server_error(clock: Clock) -> None:
    recorder = Recorder(error(500, "server_error"), ok(scroll_answer(["c1"])))
    page = make_client(recorder, clock).scroll_page()
    assert len(page.records) == 1
    assert clock.sleeps == [0.5]


# ---------------------------------------------------------------- construction


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("INTERCOM_API_BASE_URL", raising=False)
    monkeypatch.delenv("INTERCOM_API_VERSION", raising=False)
    settings.cache_clear()
    yield monkeypatch
    settings.cache_clear()


def test_for_instance_uses_the_region_host_and_the_instance_version(
    fresh_settings: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder(ok({"type": "admin", "id": "1"}))
    instance = InstanceConfig.model_validate(
        {
            "authentication.type": "token",
            "intercom.access.token": TOKEN,
            "intercom.region": "eu",
            "intercom.api.version": "2.14",
        }
    )
    client = IntercomClient.for_instance(instance, http=httpx.Client(transport=httpx.MockTransport(recorder)))
    client.search_page("contacts", QUERY)
    assert str(recorder.requests[0].url) == "https://api.eu.intercom.io/contacts/search"
    assert recorder.requests[0].headers["Intercom-Version"] == "2.14"


def test_for_instance_follows_intercom_api_base_url(fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("INTERCOM_API_BASE_URL", "http://127.0.0.1:9999/")
    recorder = Recorder(ok({"type": "admin", "id": "1"}))
    instance = InstanceConfig.model_validate({"authentication.type": "token", "intercom.access.token": TOKEN})
    client = IntercomClient.for_instance(instance, http=httpx.Client(transport=httpx.MockTransport(recorder)))
    client.search_page("contacts", QUERY)
    assert str(recorder.requests[0].url) == "http://127.0.0.1:9999/contacts/search"
    assert recorder.requests[0].headers["Intercom-Version"] == "2.15"


def test_clients_of_two_workspaces_share_one_pool_but_neither_token_nor_cookies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder(
        httpx.Response(200, json={"type": "admin", "id": "1"}, headers={"Set-Cookie": "session=a-only"}),
        ok({"type": "admin", "id": "2"}),
    )
    # Both clients are made without a pool of their own: they reach this transport only through the
    # shared one (a client of its own would try the network and fail).
    monkeypatch.setattr(shared_http(), "_transport", httpx.MockTransport(recorder))

    IntercomClient(BASE, "token-of-workspace-a", VERSION).search_page("contacts", QUERY)
    IntercomClient(BASE, "token-of-workspace-b", VERSION).search_page("contacts", QUERY)

    first, second = recorder.requests
    assert first.headers["Authorization"] == "Bearer token-of-workspace-a"
    assert second.headers["Authorization"] == "Bearer token-of-workspace-b"
    assert "cookie" not in second.headers
