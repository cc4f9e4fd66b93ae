"""The simulated Intercom's REST endpoints, over real HTTP: search and its stateless cursor, contact search's
day-granular dates, late searchability, lists, the companies scroll, rate limits and scripted failures."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from local.intercom import ManualClock, SimulatedIntercom, Workspace

# Sunday 10 March 2024, 09:00:00 UTC: a whole day on either side in UTC and in New York.
MORNING = int(datetime(2024, 3, 10, 9, 0, tzinfo=UTC).timestamp())
HOUR = 3600
DAY = 86_400


@pytest.fixture
def intercom() -> Iterator[SimulatedIntercom]:
    with SimulatedIntercom() as server:
        yield server


@pytest.fixture
def clock(intercom: SimulatedIntercom) -> ManualClock:
    clock = ManualClock(MORNING)
    intercom.workspace.clock = clock
    return clock


@pytest.fixture
def workspace(intercom: SimulatedIntercom, clock: ManualClock) -> Workspace:
    return intercom.workspace


@pytest.fixture
def client(intercom: SimulatedIntercom) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {intercom.issue_token()}", "Intercom-Version": "2.15"}
    with httpx.Client(base_url=intercom.url, headers=headers) as client:
        yield client


def search(
    client: httpx.Client,
    resource: str,
    query: dict[str, Any],
    *,
    per_page: int | None = None,
    starting_after: str | None = None,
    version: str | None = None,
    sort: dict[str, str] | None = None,
) -> httpx.Response:
    pagination: dict[str, Any] = {}
    if per_page is not None:
        pagination["per_page"] = per_page
    if starting_after is not None:
        pagination["starting_after"] = starting_after
    body: dict[str, Any] = {"query": query, "pagination": pagination}
    if sort is not None:
        body["sort"] = sort
    headers = {"Intercom-Version": version} if version else {}
    return client.post(f"/{resource}/search", json=body, headers=headers)


def found(response: httpx.Response, key: str = "data") -> list[str]:
    assert response.status_code == 200, response.text
    return [record["id"] for record in response.json()[key]]


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["type"] == "error.list"
    return str(body["errors"][0]["code"])


UPDATED_ASCENDING = {"field": "updated_at", "order": "ascending"}
EVERYTHING = {"field": "updated_at", "operator": ">", "value": 0}


# --- search pages and the stateless cursor ---------------------------------------------------------------


def test_search_pages_follow_the_next_cursor_to_a_page_without_next(
    workspace: Workspace, client: httpx.Client
) -> None:
    seeded = [c["id"] for c in workspace.seed("conversations", 7, start=MORNING - DAY, spacing=60)]

    pages, cursor = [], None
    while True:
        body = search(client, "conversations", EVERYTHING, per_page=3, starting_after=cursor).json()
        pages.append(body)
        if "next" not in body["pages"]:
            break
        cursor = body["pages"]["next"]["starting_after"]

    assert [[c["id"] for c in page["conversations"]] for page in pages] == [
        seeded[0:3],
        seeded[3:6],
        seeded[6:],
    ]
    assert [page["pages"]["page"] for page in pages] == [1, 2, 3]
    assert {(page["total_count"], page["pages"]["total_pages"]) for page in pages} == {(7, 3)}


def test_the_cursor_is_stateless_so_it_can_be_replayed(workspace: Workspace, client: httpx.Client) -> None:
    workspace.seed("contacts", 5, start=MORNING - DAY)
    cursor = search(client, "contacts", EVERYTHING, per_page=2).json()["pages"]["next"]["starting_after"]

    first = found(search(client, "contacts", EVERYTHING, per_page=2, starting_after=cursor))
    again = found(search(client, "contacts", EVERYTHING, per_page=2, starting_after=cursor))

    assert first == again
    assert json.loads(base64.b64decode(cursor))["offset"] == 2


def test_an_update_between_pages_skips_one_record_and_repeats_the_updated_one(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    ids = [c["id"] for c in workspace.seed("conversations", 6, start=MORNING - DAY, spacing=60)]
    first = search(client, "conversations", EVERYTHING, per_page=3, sort=UPDATED_ASCENDING)
    clock.advance(1)
    workspace.update("conversations", ids[1], state="closed")  # moves to the end of the order

    cursor = first.json()["pages"]["next"]["starting_after"]
    second = search(
        client, "conversations", EVERYTHING, per_page=3, starting_after=cursor, sort=UPDATED_ASCENDING
    )

    seen = found(first, "conversations") + found(second, "conversations")
    assert seen == [ids[0], ids[1], ids[2], ids[4], ids[5], ids[1]]
    assert ids[3] not in seen


def test_sort_descending_puts_the_latest_change_first(workspace: Workspace, client: httpx.Client) -> None:
    ids = [c["id"] for c in workspace.seed("tickets", 3, start=MORNING - DAY, spacing=60)]

    response = search(client, "tickets", EVERYTHING, sort={"field": "updated_at", "order": "descending"})

    assert found(response, "tickets") == ids[::-1]


def test_per_page_over_150_is_a_400_error_list(client: httpx.Client) -> None:
    response = search(client, "contacts", EVERYTHING, per_page=151)

    assert response.status_code == 400
    assert error_code(response) == "parameter_invalid"


def test_per_page_comes_as_a_string_when_the_workspace_says_so(
    workspace: Workspace, client: httpx.Client
) -> None:
    workspace.per_page_as_string = True

    pages = search(client, "contacts", EVERYTHING, per_page=5).json()["pages"]

    assert pages["per_page"] == "5"


def test_an_unknown_operator_is_a_400_error_list(client: httpx.Client) -> None:
    response = search(client, "contacts", {"field": "email", "operator": "LIKE", "value": "a"})

    assert response.status_code == 400
    assert error_code(response) == "parameter_invalid"


def test_and_or_queries_combine_filters(workspace: Workspace, client: httpx.Client) -> None:
    lead = workspace.create("contacts", role="lead", email="ada@example.com")
    workspace.create("contacts", role="lead", email="bob@example.org")
    user = workspace.create("contacts", role="user", email="cy@example.com")
    query = {
        "operator": "AND",
        "value": [
            {"field": "email", "operator": "$", "value": "example.com"},
            {
                "operator": "OR",
                "value": [
                    {"field": "role", "operator": "=", "value": "lead"},
                    {"field": "id", "operator": "IN", "value": [user["id"]]},
                ],
            },
        ],
    }

    assert found(search(client, "contacts", query)) == [lead["id"], user["id"]]


def test_more_than_two_levels_of_nesting_is_a_400(client: httpx.Client) -> None:
    deepest = {"operator": "OR", "value": [EVERYTHING]}
    query = {"operator": "AND", "value": [{"operator": "OR", "value": [deepest]}]}

    assert search(client, "contacts", query).status_code == 400


def test_conversation_search_answers_a_conversation_list(workspace: Workspace, client: httpx.Client) -> None:
    workspace.create("conversations", title="Refund")

    body = search(client, "conversations", {"field": "state", "operator": "=", "value": "open"}).json()

    assert body["type"] == "conversation.list"
    assert [c["title"] for c in body["conversations"]] == ["Refund"]


# --- dates: contacts by day on stable versions, to the second elsewhere ---------------------------------


def test_stable_contact_search_greater_than_starts_on_the_next_day(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    today = workspace.create("contacts")
    clock.advance(DAY)
    tomorrow = workspace.create("contacts")

    response = search(client, "contacts", {"field": "created_at", "operator": ">", "value": MORNING - HOUR})

    assert found(response) == [tomorrow["id"]]
    assert today["created_at"] > MORNING - HOUR


def test_stable_contact_search_equals_matches_the_whole_day(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    morning = workspace.create("contacts")
    clock.advance(12 * HOUR)
    evening = workspace.create("contacts")
    clock.advance(4 * HOUR)
    workspace.create("contacts")  # 01:00 the next day

    response = search(client, "contacts", {"field": "created_at", "operator": "=", "value": MORNING})

    assert found(response) == [morning["id"], evening["id"]]


def test_stable_contact_search_less_than_ends_before_the_day(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    first_day = workspace.create("contacts")
    clock.advance(DAY)
    workspace.create("contacts")

    response = search(
        client, "contacts", {"field": "updated_at", "operator": "<", "value": MORNING + DAY + HOUR}
    )

    assert found(response) == [first_day["id"]]


@pytest.mark.parametrize("operator", [">=", "<=", "!="])
def test_stable_contact_search_refuses_these_operators_on_dates(client: httpx.Client, operator: str) -> None:
    response = search(client, "contacts", {"field": "updated_at", "operator": operator, "value": MORNING})

    assert response.status_code == 400
    assert error_code(response) == "parameter_invalid"


@pytest.mark.parametrize(("zone", "expected"), [("UTC", 1), ("America/New_York", 0)])
def test_contact_days_follow_the_workspace_time_zone(
    intercom: SimulatedIntercom, client: httpx.Client, zone: str, expected: int
) -> None:
    # Created at 03:00 UTC on 10 March, which is still 9 March in New York.
    workspace = intercom.add_workspace(timezone=zone, clock=ManualClock(MORNING - 6 * HOUR))
    workspace.create("contacts")
    headers = {"Authorization": f"Bearer {intercom.issue_token(workspace)}"}
    after_9_march = {"field": "created_at", "operator": ">", "value": MORNING - DAY}

    response = client.post("/contacts/search", json={"query": after_9_march}, headers=headers)

    assert response.json()["total_count"] == expected


@pytest.mark.parametrize("version", ["Preview", "Unstable"])
def test_preview_contact_search_compares_to_the_second(
    workspace: Workspace, clock: ManualClock, client: httpx.Client, version: str
) -> None:
    workspace.create("contacts")
    clock.advance(1)
    later = workspace.create("contacts")

    greater = search(
        client, "contacts", {"field": "created_at", "operator": ">", "value": MORNING}, version=version
    )
    at_least = search(
        client, "contacts", {"field": "created_at", "operator": ">=", "value": MORNING + 1}, version=version
    )

    assert found(greater) == found(at_least) == [later["id"]]


def test_without_a_version_header_the_apps_version_decides(
    intercom: SimulatedIntercom, workspace: Workspace, clock: ManualClock
) -> None:
    workspace.api_version = "Preview"
    workspace.create("contacts")
    headers = {"Authorization": f"Bearer {intercom.issue_token()}"}
    same_second = {"field": "created_at", "operator": "<", "value": MORNING + 1}

    response = httpx.post(f"{intercom.url}/contacts/search", json={"query": same_second}, headers=headers)

    assert response.json()["total_count"] == 1


def test_conversation_search_compares_to_the_second_on_stable_versions(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    workspace.create("conversations")
    clock.set(MORNING + 0.5)
    workspace.create("conversations")  # the same second
    clock.set(MORNING + 1)
    next_second = workspace.create("conversations")

    response = search(client, "conversations", {"field": "updated_at", "operator": ">", "value": MORNING})

    assert found(response, "conversations") == [next_second["id"]]


def test_conversation_bounds_include_the_value_when_the_workspace_reads_the_docs_that_way(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    workspace.second_bounds_inclusive = True
    at_the_bound = workspace.create("conversations")

    response = search(client, "conversations", {"field": "updated_at", "operator": ">", "value": MORNING})

    assert found(response, "conversations") == [at_the_bound["id"]]


# --- the data changing while the server runs ---------------------------------------------------------


def test_a_new_contact_is_searchable_only_after_the_index_lag(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    workspace.index_lag_seconds = 120
    contact = workspace.create("contacts")
    by_id = {"field": "id", "operator": "=", "value": contact["id"]}

    clock.advance(119)
    before = found(search(client, "contacts", by_id))
    clock.advance(1)
    after = found(search(client, "contacts", by_id))

    assert (before, after) == ([], [contact["id"]])


def test_an_update_to_an_indexed_contact_is_searchable_at_once(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    workspace.index_lag_seconds = 120
    [contact] = workspace.seed("contacts", 1, start=MORNING - DAY)
    workspace.update("contacts", contact["id"], name="Ada Lovelace")

    response = search(client, "contacts", {"field": "name", "operator": "=", "value": "Ada Lovelace"})

    assert found(response) == [contact["id"]]


def test_update_bumps_updated_at_to_the_workspace_clock(workspace: Workspace, clock: ManualClock) -> None:
    contact = workspace.create("contacts")
    clock.advance(90.5)

    updated = workspace.update("contacts", contact["id"], role="lead")

    assert (updated["created_at"], updated["updated_at"], updated["role"]) == (MORNING, MORNING + 90, "lead")


def test_a_deleted_record_is_gone_from_search_and_get(workspace: Workspace, client: httpx.Client) -> None:
    ticket = workspace.create("tickets")
    workspace.delete("tickets", ticket["id"])

    assert found(search(client, "tickets", EVERYTHING), "tickets") == []
    missing = client.get(f"/tickets/{ticket['id']}")
    assert (missing.status_code, error_code(missing)) == (404, "not_found")


def test_seed_spreads_the_timestamps(workspace: Workspace) -> None:
    seeded = workspace.seed("companies", 3, start=MORNING, spacing=2.5)

    assert [c["updated_at"] for c in seeded] == [MORNING, MORNING + 2, MORNING + 5]
    assert len({c["id"] for c in seeded}) == 3


def test_a_seed_of_5000_contacts_answers_a_search_page_quickly(
    workspace: Workspace, client: httpx.Client
) -> None:
    workspace.seed("contacts", 5000, start=MORNING - 30 * DAY, spacing=300)

    started = time.perf_counter()
    response = search(client, "contacts", EVERYTHING, per_page=150, sort=UPDATED_ASCENDING)
    elapsed = time.perf_counter() - started

    assert response.json()["total_count"] == 5000
    assert len(found(response)) == 150
    assert elapsed < 1.0


# --- lists -----------------------------------------------------------------------------------------------


def test_the_contacts_list_pages_with_a_cursor(workspace: Workspace, client: httpx.Client) -> None:
    ids = [c["id"] for c in workspace.seed("contacts", 3, start=MORNING)]

    first = client.get("/contacts", params={"per_page": 2})
    cursor = first.json()["pages"]["next"]["starting_after"]
    second = client.get("/contacts", params={"per_page": 2, "starting_after": cursor})

    assert found(first) + found(second) == ids
    assert "next" not in second.json()["pages"]


def test_the_companies_list_stops_at_10000(workspace: Workspace, client: httpx.Client) -> None:
    workspace.seed("companies", 10_050, start=MORNING - DAY)

    last = client.post("/companies/list", params={"page": 100, "per_page": 100}).json()
    beyond = client.post("/companies/list", params={"page": 101, "per_page": 100}).json()

    assert (len(last["data"]), last["pages"]["total_pages"], last["pages"]["next"]) == (100, 100, None)
    assert beyond["data"] == []


# --- the companies scroll --------------------------------------------------------------------------------


def scroll(client: httpx.Client, scroll_param: str | None = None) -> httpx.Response:
    return client.get("/companies/scroll", params={"scroll_param": scroll_param} if scroll_param else None)


def test_the_scroll_pages_every_company_then_ends_with_an_empty_page(
    workspace: Workspace, client: httpx.Client
) -> None:
    ids = [c["id"] for c in workspace.seed("companies", 120, start=MORNING - DAY)]

    pages = [scroll(client).json()]
    while pages[-1]["data"]:
        pages.append(scroll(client, pages[-1]["scroll_param"]).json())

    assert [len(page["data"]) for page in pages] == [50, 50, 20, 0]
    assert [c["id"] for page in pages for c in page["data"]] == ids
    assert (pages[0]["pages"], pages[0]["total_count"], pages[0]["type"]) == (None, None, "list")


def test_a_second_scroll_while_one_is_open_is_scroll_exists(
    workspace: Workspace, client: httpx.Client
) -> None:
    workspace.seed("companies", 60, start=MORNING - DAY)
    scroll(client)

    second = scroll(client)

    assert (second.status_code, error_code(second)) == (400, "scroll_exists")


def test_a_finished_scroll_lets_a_new_one_start(workspace: Workspace, client: httpx.Client) -> None:
    workspace.seed("companies", 10, start=MORNING - DAY)
    param = scroll(client).json()["scroll_param"]
    assert scroll(client, param).json()["data"] == []

    assert scroll(client).status_code == 200
    assert scroll(client, param).status_code == 404


def test_an_idle_scroll_expires_after_a_minute(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    workspace.seed("companies", 60, start=MORNING - DAY)
    param = scroll(client).json()["scroll_param"]
    clock.advance(61)

    expired = scroll(client, param)

    assert (expired.status_code, error_code(expired)) == (404, "not_found")
    assert scroll(client).status_code == 200


def test_an_expired_scroll_can_answer_500_restart_the_scroll(
    workspace: Workspace, clock: ManualClock, client: httpx.Client
) -> None:
    workspace.scroll_expired_status = 500
    workspace.seed("companies", 60, start=MORNING - DAY)
    param = scroll(client).json()["scroll_param"]
    clock.advance(61)

    expired = scroll(client, param)

    assert expired.status_code == 500
    assert "restart the scroll" in expired.json()["errors"][0]["message"]


def test_the_scroll_is_a_snapshot_of_when_it_started(workspace: Workspace, client: httpx.Client) -> None:
    workspace.seed("companies", 60, start=MORNING - DAY)
    param = scroll(client).json()["scroll_param"]
    workspace.create("companies", name="Late Ltd")

    rest = scroll(client, param).json()["data"]

    assert len(rest) == 10
    assert "Late Ltd" not in [c["name"] for c in rest]


# --- rate limits, failures, tokens, versions -----------------------------------------------------------


def test_every_authenticated_answer_carries_the_rate_limit_headers(
    intercom: SimulatedIntercom, client: httpx.Client
) -> None:
    intercom.clock = ManualClock(1_700_000_003)

    answers = [search(client, "contacts", EVERYTHING), client.get("/companies/scroll")]

    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1665", "1664"]
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {"1666"}
    assert {a.headers["x-ratelimit-reset"] for a in answers} == {"1700000010"}


def test_over_the_limit_is_a_429_rate_limit_exceeded_without_retry_after(
    intercom: SimulatedIntercom, client: httpx.Client
) -> None:
    intercom.clock = ManualClock(1_700_000_000)
    intercom.set_rate_limit(2)

    answers = [search(client, "contacts", EVERYTHING) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert error_code(answers[2]) == "rate_limit_exceeded"
    assert "retry-after" not in answers[2].headers
    assert answers[2].headers["x-ratelimit-remaining"] == "0"


def test_the_next_window_allows_calls_again(intercom: SimulatedIntercom, client: httpx.Client) -> None:
    clock = ManualClock(1_700_000_000)
    intercom.clock = clock
    intercom.set_rate_limit(1)
    search(client, "contacts", EVERYTHING)
    assert search(client, "contacts", EVERYTHING).status_code == 429

    clock.advance(10)

    assert search(client, "contacts", EVERYTHING).status_code == 200


def test_scripted_failures_answer_the_next_searches(
    intercom: SimulatedIntercom, client: httpx.Client
) -> None:
    intercom.fail_next(503, 500, 429)

    statuses = [search(client, "conversations", EVERYTHING).status_code for _ in range(4)]

    assert statuses == [503, 500, 429, 200]


def test_a_revoked_token_gets_a_401_error_list(intercom: SimulatedIntercom) -> None:
    token = intercom.issue_token()
    intercom.revoke_token(token)

    response = httpx.post(
        f"{intercom.url}/contacts/search",
        json={"query": EVERYTHING},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 401
    assert response.json()["errors"] == [{"code": "unauthorized", "message": "Access Token Invalid"}]


def test_the_intercom_version_of_each_request_is_recorded(
    intercom: SimulatedIntercom, client: httpx.Client
) -> None:
    search(client, "contacts", EVERYTHING, version="Preview")
    client.get("/companies/scroll")

    assert [r.header("Intercom-Version") for r in intercom.requests] == ["Preview", "2.15"]
