"""Which records of a page a poll sends, and as what (logic.polling.page_changes and unsent).

Pure decisions: no AWS, no Intercom. Every `event.poller.configuration` option that shapes the decision.
"""

from __future__ import annotations

from typing import Any

from intercom_events.logic.polling import Window, page_changes, unsent
from intercom_events.models.poller_config import ResourcePoll

FLOOR = 1_800_000_000  # the instance's creation
WINDOW = Window(start=FLOOR + 1000, until=FLOOR + 2000)


def record(record_id: str, updated: Any, created: Any = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": record_id,
        "updated_at": updated,
        "created_at": updated if created is None else created,
        **fields,
    }


def sent(records: list[dict[str, Any]], window: Window = WINDOW, **entry: Any) -> list[tuple[str, str, str]]:
    """(objectId, eventType, date) of each change the page holds for the window."""
    found = page_changes(
        records,
        ResourcePoll.model_validate({"url": "/conversations/search", **entry}),
        "conversations",
        window,
        floor=FLOOR,
    )
    return [(c.event.objectId, c.event.eventType.value, c.event.date) for c in found.changes]


def test_a_record_changed_inside_the_window_goes_out_with_its_updated_date_and_the_poll_date():
    [change] = page_changes(
        [record("7", FLOOR + 1500, FLOOR + 10)],
        ResourcePoll(url="/conversations/search"),
        "conversations",
        WINDOW,
        floor=FLOOR,
    ).changes
    assert change.record_id == "7" and change.version == FLOOR + 1500
    assert change.event.model_dump(exclude_none=True) == {
        "date": "2027-01-15T08:25:00Z",
        "elementKey": "intercom",
        "hubKey": "marketing",
        "eventType": "UPDATED",
        "objectId": "7",
        "objectType": "conversations",
        "pollDate": "2027-01-15T08:33:20Z",
    }


def test_created_equal_to_updated_is_a_creation_and_created_earlier_an_update():
    assert sent([record("1", FLOOR + 1500), record("2", FLOOR + 1500, FLOOR + 1499)]) == [
        ("1", "CREATED", "2027-01-15T08:25:00Z"),
        ("2", "UPDATED", "2027-01-15T08:25:00Z"),
    ]


def test_created_check_tolerance_counts_a_record_updated_seconds_after_its_creation_as_created():
    page = [record("1", FLOOR + 1500, FLOOR + 1497), record("2", FLOOR + 1500, FLOOR + 1496)]
    assert [kind for _, kind, _ in sent(page, createdCheckTolerance=3)] == ["CREATED", "UPDATED"]
    assert [kind for _, kind, _ in sent(page)] == ["UPDATED", "UPDATED"]


def test_a_record_without_a_created_date_is_an_update():
    assert sent([{"id": "1", "updated_at": FLOOR + 1500}]) == [("1", "UPDATED", "2027-01-15T08:25:00Z")]


def test_a_record_older_than_the_window_ends_a_newest_first_pass_and_is_not_sent():
    found = page_changes(
        [record("new", FLOOR + 1500), record("old", FLOOR + 999)],
        ResourcePoll(url="/conversations/search"),
        "conversations",
        WINDOW,
        floor=FLOOR,
    )
    assert [c.record_id for c in found.changes] == ["new"] and found.reached_start


def test_without_filter_by_updated_date_older_records_go_out_but_never_from_before_the_floor():
    page = [
        record("in", FLOOR + 1500),
        record("before-window", FLOOR + 10),
        record("before-floor", FLOOR - 1),
    ]
    found = page_changes(
        page,
        ResourcePoll(url="/conversations/search", filterByUpdatedDate=False),
        "conversations",
        WINDOW,
        floor=FLOOR,
    )
    assert [c.record_id for c in found.changes] == ["in", "before-window"] and not found.reached_start


def test_filter_by_current_date_leaves_changes_made_after_the_pass_began_to_the_next_poll():
    page = [record("later", WINDOW.until + 5), record("in", WINDOW.until)]
    assert [rid for rid, _, _ in sent(page, filterByCurrentDate=True)] == ["in"]
    assert [rid for rid, _, _ in sent(page)] == ["later", "in"]


def test_a_backfill_cuts_at_its_until_whatever_the_configuration_says():
    found = page_changes(
        [record("later", WINDOW.until + 5)],
        ResourcePoll(url="/conversations/search"),
        "conversations",
        WINDOW,
        floor=FLOOR,
        cut_at_until=True,
    )
    assert found.changes == []


def test_a_dotted_id_field_names_the_object():
    page = [record("conversation-9", FLOOR + 1500, source={"id": "400000009"})]
    assert sent(page, idField="source.id") == [("400000009", "CREATED", "2027-01-15T08:25:00Z")]


def test_a_record_without_the_id_field_is_not_sent():
    assert sent([record("1", FLOOR + 1500)], idField="source.id") == []


def test_a_record_without_a_readable_updated_date_is_skipped_and_counted():
    page = [record("none", None), record("garbled", "not a date"), record("ok", FLOOR + 1500)]
    found = page_changes(
        page, ResourcePoll(url="/conversations/search"), "conversations", WINDOW, floor=FLOOR
    )
    assert [c.record_id for c in found.changes] == ["ok"] and found.undated == 2


def test_a_record_twice_on_a_page_goes_out_once_at_its_newest_version():
    page = [record("1", FLOOR + 1500), record("2", FLOOR + 1400), record("1", FLOOR + 1600)]
    assert [(rid, date) for rid, _, date in sent(page)] == [
        ("1", "2027-01-15T08:26:40Z"),
        ("2", "2027-01-15T08:23:20Z"),
    ]


def test_dates_in_a_java_pattern_read_in_the_configured_zone():
    dates = {
        "updatedDateField": "custom_attributes.changed",
        "updatedDateFormat": "dd/MM/yyyy HH:mm:ss",
        "updatedDateTimezone": "Asia/Kolkata",
        "createdDateField": "custom_attributes.opened",
        "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ssXXX",
    }
    # 14:00:00 in Kolkata is 08:30:00Z; created at the same instant, written with an offset.
    page = [
        {"id": "1", "custom_attributes": {"changed": "15/01/2027 14:00:00", "opened": "2027-01-15T08:30:00Z"}}
    ]
    assert sent(page, datesConfiguration=dates) == [("1", "CREATED", "2027-01-15T08:30:00Z")]


def test_iso_dates_and_milliseconds_are_read_as_configured():
    page = [
        record("iso", "2027-01-15T08:25:00+00:00", "2027-01-15T08:00:00Z"),
        record("ms", (FLOOR + 1500) * 1000),
    ]
    iso = {"updatedDateFormat": "iso8601", "createdDateFormat": "ISO-8601"}
    assert sent(page[:1], datesConfiguration=iso) == [("iso", "UPDATED", "2027-01-15T08:25:00Z")]
    ms = {"updatedDateFormat": "milliseconds", "createdDateFormat": "milliseconds"}
    assert sent(page[1:], datesConfiguration=ms) == [("ms", "CREATED", "2027-01-15T08:25:00Z")]


def test_versions_already_sent_are_not_sent_again_and_newer_ones_are():
    found = page_changes(
        [record("same", FLOOR + 1500), record("newer", FLOOR + 1600), record("unknown", FLOOR + 1500)],
        ResourcePoll(url="/conversations/search"),
        "conversations",
        WINDOW,
        floor=FLOOR,
    )
    known = {"same": float(FLOOR + 1500), "newer": float(FLOOR + 1500)}
    assert [c.record_id for c in unsent(found.changes, known)] == ["newer", "unknown"]
