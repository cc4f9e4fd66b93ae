"""`event.poller.configuration` read into what the poller does (models.poller_config): no AWS, no network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from intercom_events.errors import BadRequest
from intercom_events.models.poller_config import (
    DEFAULT_RESOURCES,
    ResourcePoll,
    Target,
    parse_poller_configuration,
    resolve_url,
)

LAST_POLL = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("/contacts/search", Target(resource="contacts", method="search")),
        ("/conversations", Target(resource="conversations", method="search")),
        ("/tickets/search/", Target(resource="tickets", method="search")),
        ("/companies/scroll", Target(resource="companies", method="scroll")),
        (
            "/hubs/marketing/conversations?orderBy=updated_at desc",
            Target(resource="conversations", method="search"),
        ),
        ("/hubs/marketing/users", Target(resource="contacts", method="search")),
        ("/hubs/marketing/Leads", Target(resource="contacts", method="search")),
    ],
)
def test_rest_paths_and_open_connectors_hub_urls_name_one_intercom_endpoint(url, target):
    assert resolve_url(url) == target


def test_a_where_clause_becomes_intercom_search_filters():
    target = resolve_url("/hubs/marketing/conversations?where=state = 'open' and priority != 'priority'")
    assert target.filters == [
        {"field": "state", "operator": "=", "value": "open"},
        {"field": "priority", "operator": "!=", "value": "priority"},
    ]


def test_a_where_clause_keeps_numbers_as_numbers_and_dotted_fields_as_they_are():
    target = resolve_url("/contacts/search?where=custom_attributes.score >= 7.5 AND updated_at > 1795773600")
    assert target.filters == [
        {"field": "custom_attributes.score", "operator": ">=", "value": 7.5},
        {"field": "updated_at", "operator": ">", "value": 1795773600},
    ]


def test_a_where_clause_carries_the_last_poll_time_through_its_macros():
    entry = ResourcePoll(url="/hubs/marketing/conversations?where=updated_at > ${epoch:s}")
    assert entry.target(LAST_POLL).filters == [{"field": "updated_at", "operator": ">", "value": 1795773600}]
    zoned = ResourcePoll(url="/tickets/search?where=since = '${dateTimeZone:+05:30:yyyy-MM-dd HH:mm}'")
    assert zoned.target(LAST_POLL).filters[0]["value"] == "2026-11-27 15:30"


@pytest.mark.parametrize(
    "url",
    [
        "/hubs/marketing/accounts",
        "/admins",
        "/conversations/search?where=state = 'open' or open = true",
        "/contacts/search?where=name like 'A%'",
        "/companies/scroll?where=name = 'x'",
    ],
)
def test_a_url_the_poller_cannot_follow_is_refused(url):
    with pytest.raises(ValueError):
        resolve_url(url)


def test_defaults_are_open_connectors():
    entry = ResourcePoll(url="/contacts/search")
    assert (entry.idField, entry.filterByUpdatedDate, entry.filterByCurrentDate) == ("id", True, False)
    assert (entry.createdCheckTolerance, entry.pageSize, entry.pollDelay) == (0, 150, 0)
    dates = entry.datesConfiguration
    assert (dates.updatedDateField, dates.updatedDateFormat, dates.updatedDateTimezone) == (
        "updated_at",
        "timestamp",
        None,
    )
    assert (dates.createdDateField, dates.createdDateFormat) == ("created_at", "timestamp")


def test_values_written_as_strings_are_read_as_open_connectors_reads_them():
    entry = ResourcePoll.model_validate(
        {"url": "/contacts", "filterByCurrentDate": "true", "pollDelay": "300", "createdCheckTolerance": "5"}
    )
    assert (entry.filterByCurrentDate, entry.pollDelay, entry.createdCheckTolerance) == (True, 300, 5)


def test_a_page_size_above_intercoms_150_means_as_many_as_allowed():
    assert ResourcePoll.model_validate({"url": "/contacts", "pageSize": "500"}).pageSize == 150
    assert ResourcePoll.model_validate({"url": "/contacts", "pageSize": 20}).pageSize == 20


def test_without_a_configuration_the_four_resources_are_polled_narrowed_by_event_objects():
    assert tuple(parse_poller_configuration(None, None)) == DEFAULT_RESOURCES
    assert list(parse_poller_configuration({}, ["tickets", "contacts"])) == ["contacts", "tickets"]


def test_a_configuration_is_narrowed_by_event_objects():
    configuration = {"conversations": {"url": "/conversations"}, "leads": {"url": "/hubs/marketing/leads"}}
    assert list(parse_poller_configuration(configuration, ["leads"])) == ["leads"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"url": "/hubs/marketing/nothing"}, "nothing"),
        ({"url": "/contacts", "pollDelay": -1}, "greater than or equal to 0"),
        ({"url": "/contacts", "datesConfiguration": {"updatedDateFormat": "yyyy-qq"}}, ""),
        ({"url": "/contacts", "datesConfiguration": {"createdDateTimezone": "Mars/Olympus"}}, ""),
        ({"url": "/contacts?where=updated_at > ${epoch:days}"}, "epoch"),
        ({"idField": "id"}, "Field required"),
    ],
    ids=["unknown resource", "negative pollDelay", "illegal pattern", "unknown zone", "bad macro", "no url"],
)
def test_each_bad_entry_is_refused_naming_its_field(entry, message):
    with pytest.raises(BadRequest) as refused:
        parse_poller_configuration({"contacts": {"url": "/contacts"}, "bad": entry}, None)
    [error] = refused.value.errors
    assert error["field"] == "configuration.event.poller.configuration.bad"
    assert message in error["message"]
